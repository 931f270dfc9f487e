import socket

import pytest
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper
from django_redis import get_redis_connection

from cloudshelf import health, redis_guard
from cloudshelf.breaker import all_breakers
from cloudshelf.heartbeat import worker_heartbeat_beat, worker_heartbeat_stop
from search.services import sync_key as search_key
from tests.factories import UserFactory
from tests.ops.hung_peer import HungPeer

pytestmark = pytest.mark.django_db

TOKEN = "health-details-token-0123456789"
DETAILS = {"HTTP_X_HEALTH_TOKEN": TOKEN}


@pytest.fixture(autouse=True)
def _details_token_and_fresh_memos(settings):
    settings.HEALTH_DETAILS_TOKEN = TOKEN
    pending = get_redis_connection("durable"), search_key("pending")  # this test process's queue
    health.broker_memo.clear()
    redis_guard.forget()
    pending[0].delete(pending[1])
    # Earlier tests may leave a breaker open (searches against an index they never built).
    for breaker in all_breakers():
        breaker.reset()
    yield
    health.broker_memo.clear()
    redis_guard.forget()
    pending[0].delete(pending[1])


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


def test_readiness_reports_each_dependency_with_timings_to_a_token_holder(client):
    response = client.get("/health/ready", **DETAILS)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {
        "database",
        "cache",
        "durable",
        "broker",
        "search",
        "index_sync",
        "hot_data",
        "replica",
        "shedding",
        "breakers",
    }
    for result in body["checks"].values():
        assert result["status"] == "ok"
        assert isinstance(result["ms"], float)


def test_the_public_sees_only_the_status(client):
    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_public_sees_no_error_text_when_something_is_down(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/health/ready")

    assert response.json() == {"status": "degraded"}


@pytest.mark.parametrize("given", ["wrong-token", TOKEN[:-1], TOKEN + "x", "", " " + TOKEN])
def test_a_wrong_token_gets_no_details(client, given):
    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=given)

    assert response.json() == {"status": "ok"}


def test_no_token_is_accepted_when_none_is_configured(client, settings):
    settings.HEALTH_DETAILS_TOKEN = ""

    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN="")

    assert response.json() == {"status": "ok"}


def test_staff_users_see_the_details(client):
    client.force_login(UserFactory(is_staff=True))

    assert "checks" in client.get("/health/ready").json()


def test_customers_do_not_see_the_details(customer_client):
    assert customer_client.get("/health/ready").json() == {"status": "ok"}


def test_readiness_is_503_when_the_database_is_down(client, monkeypatch):
    broken = DatabaseWrapper(
        {**connection.settings_dict, "PORT": closed_port(), "OPTIONS": {"connect_timeout": 1}}, alias="broken"
    )
    monkeypatch.setattr(health, "connection", broken)

    response = client.get("/health/ready", **DETAILS)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"]["status"] == "down"
    assert body["checks"]["database"]["error"]
    assert body["checks"]["cache"]["status"] == "ok"


@pytest.mark.parametrize("alias", ["default", "durable"])
def test_a_down_redis_degrades_but_keeps_the_node_in_service(client, settings, alias):
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {**settings.CACHES, alias: {**settings.CACHES[alias], "LOCATION": url}}

    response = client.get("/health/ready", **DETAILS)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    check = "cache" if alias == "default" else "durable"
    assert body["checks"][check]["status"] == "degraded"
    assert body["checks"]["database"]["status"] == "ok"


def test_a_down_broker_degrades_but_keeps_the_node_in_service(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"

    response = client.get("/health/ready", **DETAILS)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["broker"]["status"] == "degraded"


def test_the_broker_is_checked_once_per_interval_not_on_every_call(client, settings):
    with HungPeer().running() as broker:
        settings.CELERY_BROKER_URL = broker.url()
        for _ in range(3):
            body = client.get("/health/ready", **DETAILS).json()
            assert body["checks"]["broker"]["status"] == "degraded"

        assert broker.accepted == 1


def test_with_no_interval_the_broker_is_checked_on_every_call(client, settings):
    settings.HEALTH_BROKER_CHECK_SECONDS = 0
    with HungPeer().running() as broker:
        settings.CELERY_BROKER_URL = broker.url()
        client.get("/health/ready")
        client.get("/health/ready")

        assert broker.accepted == 2


def test_with_every_redis_hung_readiness_waits_on_each_server_once_and_stays_in_service(client, settings):
    with HungPeer().running() as peer:
        settings.CACHES = {alias: {**config, "LOCATION": peer.url()} for alias, config in settings.CACHES.items()}
        settings.CELERY_BROKER_URL = peer.url(3)

        response = client.get("/health/ready", **DETAILS)

        assert response.status_code == 200
        checks = response.json()["checks"]
        assert {name for name, result in checks.items() if result["status"] == "degraded"} >= {
            "cache",
            "durable",
            "broker",
            "index_sync",
        }
        # One connection that timed out; every later call (durable, broker, index sync)
        # knew the server was down and did not wait again.
        assert peer.accepted == 1


def test_index_sync_is_stalled_when_changes_wait_and_no_worker_is_alive(client, settings):
    settings.CACHE_KEY_PREFIX = f"health-{id(settings)}"  # workers of other test runs do not count
    get_redis_connection("durable").sadd(search_key("pending"), 1, 2, 3)

    response = client.get("/health/ready", **DETAILS)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["index_sync"]["status"] == "degraded"
    stalled = "index sync stalled: 3 book changes queued and no Celery worker alive"
    assert body["checks"]["index_sync"]["error"] == stalled


def test_index_sync_is_fine_while_a_worker_is_alive(client, settings):
    settings.CACHE_KEY_PREFIX = f"health-{id(settings)}"
    get_redis_connection("durable").sadd(search_key("pending"), 1)
    worker_heartbeat_beat(hostname="worker@test")
    try:
        body = client.get("/health/ready", **DETAILS).json()
    finally:
        worker_heartbeat_stop(hostname="worker@test")

    assert body["checks"]["index_sync"]["status"] == "ok"


def test_index_sync_is_fine_with_nothing_queued_and_no_worker(client, settings):
    settings.CACHE_KEY_PREFIX = f"health-{id(settings)}"

    body = client.get("/health/ready", **DETAILS).json()

    assert body["checks"]["index_sync"]["status"] == "ok"


def test_liveness_refuses_post(client):
    assert client.post("/health").status_code == 405


def test_liveness_answers_a_load_balancer_probing_by_address(client):
    """An ALB health check to an ECS task sends the task's IP as Host, which no ALLOWED_HOSTS lists."""
    probe = client.get("/health", HTTP_HOST="10.0.1.23:8000", HTTP_USER_AGENT="ELB-HealthChecker/2.0")
    page = client.get("/books/", HTTP_HOST="10.0.1.23:8000")

    assert probe.status_code == 200
    assert probe.content == b"ok"
    assert page.status_code == 400  # every other path still refuses a host it does not serve
