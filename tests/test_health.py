import socket

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from cloudshelf import health

pytestmark = pytest.mark.django_db


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_liveness_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_readiness_reports_each_dependency_with_timings(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "search"}
    for result in body["checks"].values():
        assert result["status"] == "ok"
        assert isinstance(result["ms"], float)


def test_readiness_is_503_when_the_database_is_down(client, monkeypatch):
    broken = DatabaseWrapper(
        {**connection.settings_dict, "PORT": closed_port(), "OPTIONS": {"connect_timeout": 1}}, alias="broken"
    )
    monkeypatch.setattr(health, "connection", broken)

    response = client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"]
    assert body["checks"]["cache"]["status"] == "ok"


def test_readiness_is_503_when_redis_is_down(client, settings):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}

    response = client.get("/health/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"]["status"] == "down"
    assert checks["database"]["status"] == "ok"


def test_a_down_broker_degrades_but_keeps_the_node_in_service(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "degraded"


def test_liveness_refuses_post(client):
    assert client.post("/health").status_code == 405
