"""``ANALYTICS_CURRENCY``: the one currency reports sum revenue in, checked when the settings load."""

import pytest

from cloudshelf.env import ImproperlyConfiguredEnv
from tests.test_settings import settings_for


def test_reports_sum_dollars_unless_told_otherwise(monkeypatch):
    assert settings_for(monkeypatch, ANALYTICS_CURRENCY=None)["ANALYTICS_CURRENCY"] == "USD"
    assert settings_for(monkeypatch, ANALYTICS_CURRENCY="EUR")["ANALYTICS_CURRENCY"] == "EUR"


@pytest.mark.parametrize("raw", ["eur", "US", "EURO", "U$D", "ÄBC", "12A", ""])
def test_a_currency_that_is_not_an_iso_code_stops_start_up(monkeypatch, raw):
    with pytest.raises(ImproperlyConfiguredEnv, match="ANALYTICS_CURRENCY must be an ISO 4217 code"):
        settings_for(monkeypatch, ANALYTICS_CURRENCY=raw)
