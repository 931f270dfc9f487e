"""The circuit breaker around OpenSearch, and what customers and /health/ready see."""

import time

import pytest
from django_redis import get_redis_connection

from search import breaker as breaker_module
from search.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, opensearch_breaker
from search.engine import autocomplete, search_books
from tests.search.conftest import HEALTH_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def breaker(settings):
    settings.SEARCH_BREAKER_FAILURES = 3
    settings.SEARCH_BREAKER_COOLDOWN = 0.2
    return CircuitBreaker("test", register=False)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        attempt = breaker.acquire()
        assert attempt is not None
        breaker.record_failure(attempt)


@pytest.fixture(params=["redis", "memory"])
def store(request, settings):
    """Every state-machine test runs on Redis and on process memory (the embedded default)."""
    if request.param == "memory":
        settings.REDIS_URL = ""
        breaker_module._memory_store.delete(*list(breaker_module._memory_store._values))
    return request.param


def test_it_stays_closed_below_the_failure_threshold(breaker, store):
    fail(breaker, 2)

    assert breaker.state == CLOSED
    assert breaker.acquire() is not None


def test_it_opens_after_enough_failures_and_refuses_calls(breaker, store):
    fail(breaker, 3)

    assert breaker.state == OPEN
    assert breaker.acquire() is None


def test_a_success_clears_earlier_failures(breaker, store):
    fail(breaker, 2)
    breaker.record_success(breaker.acquire())
    fail(breaker, 2)

    assert breaker.state == CLOSED


def test_after_the_cooldown_exactly_one_probe_goes_through(breaker, store):
    fail(breaker, 3)
    time.sleep(0.25)

    assert breaker.state == HALF_OPEN
    probe = breaker.acquire()
    assert probe is not None
    assert probe.is_probe
    assert breaker.acquire() is None  # everyone else keeps using the fallback meanwhile


def test_a_successful_probe_closes_it(breaker, store):
    fail(breaker, 3)
    time.sleep(0.25)

    breaker.record_success(breaker.acquire())

    assert breaker.state == CLOSED
    assert breaker.acquire() is not None


def test_a_failed_probe_opens_it_for_another_cooldown(breaker, store):
    fail(breaker, 3)
    time.sleep(0.25)

    breaker.record_failure(breaker.acquire())

    assert breaker.state == OPEN
    assert breaker.acquire() is None


def test_the_state_is_shared_through_redis(breaker, settings):
    fail(breaker, 3)

    keys = {
        key.decode() for key in get_redis_connection("default").keys(f"{settings.SEARCH_INDEX_PREFIX}breaker:*:test:*")
    }
    assert keys == {
        f"{settings.SEARCH_INDEX_PREFIX}breaker:{{circuit-breakers}}:test:open",
        f"{settings.SEARCH_INDEX_PREFIX}breaker:{{circuit-breakers}}:test:tripped",
        f"{settings.SEARCH_INDEX_PREFIX}breaker:{{circuit-breakers}}:test:trips",
    }


def test_it_falls_back_to_process_memory_when_redis_fails(breaker, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(breaker_module.RedisStore, "get_many", down)
    monkeypatch.setattr(breaker_module.RedisStore, "increment", down)
    monkeypatch.setattr(breaker_module.RedisStore, "put", down)
    monkeypatch.setattr(breaker_module.RedisStore, "delete", down)
    breaker_module._memory_store.delete(*list(breaker_module._memory_store._values))

    fail(breaker, 3)

    assert breaker.state == OPEN


# --- What customers see -----------------------------------------------------------------------


def test_a_hung_opensearch_costs_a_search_one_short_timeout_then_nothing(indexed_shelf, settings, silent_server):
    url, accepted = silent_server
    settings.OPENSEARCH_URL = url
    settings.OPENSEARCH_TIMEOUT = 0.2
    settings.SEARCH_BREAKER_FAILURES = 2

    timings = []
    for _ in range(4):
        started = time.perf_counter()
        result = search_books(query="dune")
        timings.append(time.perf_counter() - started)
        assert result.backend == "database"
        assert result.books[0].title == "Dune"
        assert {book.title for book in result.books} == {"Dune", "Dune Messiah", "Children of Dune"}

    assert opensearch_breaker.state == OPEN
    # Waited for the timeout, and only for it (the bound is loose: a loaded CI machine is slow).
    assert all(0.2 <= seconds < 5.0 for seconds in timings[:2])
    assert len(accepted) == 2  # the open breaker did not even try: no third connection


def test_an_unreachable_opensearch_serves_autocomplete_from_the_database(indexed_shelf, settings):
    settings.OPENSEARCH_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    assert autocomplete(prefix="hobb").backend == "database"
    assert [t.title for t in autocomplete(prefix="hobb").titles] == ["The Hobbit"]


def test_the_results_page_looks_normal_on_the_fallback(client, indexed_shelf, settings):
    opensearch_breaker.trip()

    response = client.get("/search/", {"q": "dune"})

    assert response.status_code == 200
    assert response.context["result"].backend == "database"
    html = response.content.decode().lower()
    assert "1\N{EN DASH}3 of 3 books" in html
    for alarming in ("error", "unavailable", "degraded", "fallback", "sorry", "try again"):
        assert alarming not in html.split("<main")[1]


def test_readiness_reports_search_ok_when_opensearch_answers(client, indexed_shelf):
    check = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()["checks"]["search"]

    assert check["status"] == "ok"
    assert check["required"] is False


def test_readiness_reports_search_degraded_while_the_breaker_is_open(client, indexed_shelf):
    opensearch_breaker.trip()

    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["search"]["status"] == "degraded"
    assert "circuit breaker open" in body["checks"]["search"]["error"]


def test_readiness_reports_search_degraded_when_opensearch_is_unreachable(client, settings):
    settings.OPENSEARCH_URL = "http://127.0.0.1:9"

    body = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()

    assert body["checks"]["search"]["status"] == "degraded"


def test_readiness_is_ok_without_opensearch_configured(client, settings):
    settings.OPENSEARCH_URL = ""

    assert client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()["checks"]["search"]["status"] == "ok"
