"""The RUM settings: a sampling rate is a share of page views, and anything else stops start-up."""

from __future__ import annotations

import pytest

from cloudshelf.env import ImproperlyConfiguredEnv
from tests.test_settings import settings_for


@pytest.mark.parametrize(("raw", "expected"), [(None, 0.1), ("0", 0.0), ("0.25", 0.25), ("1", 1.0)])
def test_the_sampling_rate_is_read_from_the_environment(monkeypatch, raw, expected):
    assert settings_for(monkeypatch, RUM_SAMPLE_RATE=raw)["RUM_SAMPLE_RATE"] == expected


@pytest.mark.parametrize("raw", ["1.5", "-0.1", "nan", "often"])
def test_a_sampling_rate_outside_0_to_1_stops_start_up(monkeypatch, raw):
    with pytest.raises(ImproperlyConfiguredEnv, match="RUM_SAMPLE_RATE"):
        settings_for(monkeypatch, RUM_SAMPLE_RATE=raw)


def test_retention_and_the_per_address_limit_have_their_defaults(monkeypatch):
    found = settings_for(monkeypatch, RUM_RETENTION_DAYS=None, RUM_BEACONS_PER_ADDRESS_MINUTE=None)

    assert (found["RUM_RETENTION_DAYS"], found["RUM_BEACONS_PER_ADDRESS_MINUTE"]) == (30, 120)
    with pytest.raises(ImproperlyConfiguredEnv, match="RUM_RETENTION_DAYS"):
        settings_for(monkeypatch, RUM_RETENTION_DAYS="0")
