"""Settings of the read replica: one alias built like the primary, refused when it cannot work."""

from __future__ import annotations

import pytest

from cloudshelf.env import ImproperlyConfiguredEnv
from tests.test_settings import production

REPLICA_URL = "postgres://shop:secret@replica.internal:5432/cloudshelf"


def test_the_replica_alias_gets_the_primarys_options_and_a_short_connect_timeout(monkeypatch):
    values = production(monkeypatch, ALLOW_INSECURE_HTTP="1", DATABASE_REPLICA_URL=REPLICA_URL)
    primary, replica = values["DATABASES"]["default"], values["DATABASES"]["replica"]
    assert replica["HOST"] == "replica.internal"
    assert replica["OPTIONS"]["options"] == primary["OPTIONS"]["options"]
    assert "-c statement_timeout=15000" in replica["OPTIONS"]["options"]
    assert (replica["CONN_MAX_AGE"], replica["CONN_HEALTH_CHECKS"]) == (primary["CONN_MAX_AGE"], True)
    assert (primary["OPTIONS"]["connect_timeout"], replica["OPTIONS"]["connect_timeout"]) == (3, 2)
    assert replica["TEST"] == {"MIRROR": "default"}


def test_without_a_replica_there_is_one_alias(monkeypatch):
    values = production(monkeypatch, ALLOW_INSECURE_HTTP="1", DATABASE_REPLICA_URL=None)
    assert list(values["DATABASES"]) == ["default"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"DATABASE_URL": None, "DATABASE_REPLICA_URL": REPLICA_URL}, "without DATABASE_URL"),
        ({"DATABASE_REPLICA_URL": "sqlite:///replica.sqlite3"}, "must be a postgres:// URL"),
        ({"DATABASE_REPLICA_URL": REPLICA_URL, "DATABASE_READ_YOUR_WRITES_SECONDS": "2"}, "is below"),
        ({"DATABASE_REPLICA_MAX_LAG_SECONDS": "-1"}, "below the minimum"),
        ({"DATABASE_REPLICA_MAX_LAG_SECONDS": "soon"}, "not a number"),
    ],
)
def test_a_replica_that_cannot_work_stops_the_process_at_start(monkeypatch, tmp_path, environment, message):
    with pytest.raises(ImproperlyConfiguredEnv, match=message):
        production(monkeypatch, ALLOW_INSECURE_HTTP="1", DATA_DIR=str(tmp_path), **environment)
