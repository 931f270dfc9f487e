"""The one circuit breaker (cloudshelf.breaker): its registry, one read of every state, trips,
and what operators see of every breaker in /health/ready and /metrics."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cloudshelf import breaker as breaker_module
from cloudshelf.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    CircuitBreaker,
    all_breakers,
    breaker_states,
    cache_key_prefix,
)
from cloudshelf.env import ImproperlyConfiguredEnv
from tests.resilience.conftest import COOLDOWN
from tests.test_settings import settings_for

TOKEN = "health-token-0123456789abcdef"
METRICS_TOKEN = "scrape-token-0123456789abcdef"


def policy() -> BreakerPolicy:
    return BreakerPolicy(failures=2, window=30, cooldown=COOLDOWN, probe_seconds=5, key_prefix="breaker-test:")


def breaker_named(name: str) -> CircuitBreaker:
    return next(breaker for breaker in all_breakers() if breaker.name == name)


# --- The registry -------------------------------------------------------------------------------


def test_every_remote_dependency_has_one_registered_breaker_in_name_order():
    breakers = all_breakers()

    assert [breaker.name for breaker in breakers] == ["cloudfront", "dynamodb", "opensearch", "payment"]
    assert all(len(breaker.description) > 40 for breaker in breakers)


def test_a_second_breaker_of_the_same_name_is_refused_and_the_first_stays():
    first = breaker_named("payment")

    with pytest.raises(ValueError, match="a circuit breaker named 'payment' is already registered"):
        CircuitBreaker("payment", policy=policy)

    assert breaker_named("payment") is first


@pytest.mark.parametrize("name", ["", "a:b", "{x}", "x}", "two\nlines"])
def test_a_name_that_would_break_the_key_layout_is_refused(name):
    with pytest.raises(ValueError, match="a breaker's name is a short word"):
        CircuitBreaker(name, policy=policy, register=False)

    assert [breaker.name for breaker in all_breakers()] == ["cloudfront", "dynamodb", "opensearch", "payment"]


def test_a_throwaway_breaker_is_not_registered():
    CircuitBreaker("throwaway", policy=policy, register=False)

    assert "throwaway" not in {breaker.name for breaker in all_breakers()}


# --- One read for all of them -------------------------------------------------------------------


def test_all_states_are_read_with_one_mget(monkeypatch):
    breaker_named("cloudfront").trip()
    reads: list[list[str]] = []
    real_get_many = breaker_module.RedisStore.get_many

    def counted(self, keys):
        reads.append(keys)
        return real_get_many(self, keys)

    monkeypatch.setattr(breaker_module.RedisStore, "get_many", counted)

    states = {reading.name: reading.state for reading in breaker_states()}

    assert states == {"cloudfront": OPEN, "dynamodb": CLOSED, "opensearch": CLOSED, "payment": CLOSED}
    assert len(reads) == 1
    assert len(reads[0]) == 12  # open, tripped and trips of each of the four


def test_states_are_read_from_process_memory_while_redis_is_down(monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    for method in ("get_many", "increment", "put", "delete"):
        monkeypatch.setattr(breaker_module.RedisStore, method, down)

    breaker_named("payment").trip()

    assert {reading.name: reading.state for reading in breaker_states()}["payment"] == OPEN
    assert breaker_named("payment").state == OPEN


def test_each_trip_is_counted_and_a_reset_keeps_the_count():
    payment = breaker_named("payment")

    payment.trip()
    payment.reset()
    payment.trip()
    payment.reset()

    assert {reading.name: reading.trips for reading in breaker_states()}["payment"] == 2


def test_calls_that_fail_after_it_opened_neither_count_a_second_trip_nor_extend_the_cooldown():
    """Calls in flight when the dependency died fail one after another: the first ``failures``
    of them open the breaker, the rest are late news of the same outage."""
    throwaway = CircuitBreaker(
        "late-failures", policy=lambda: replace(policy(), key_prefix=cache_key_prefix()), register=False
    )
    in_flight = [throwaway.acquire() for _ in range(5)]
    for attempt in in_flight[:2]:  # the threshold: it opens
        throwaway.record_failure(attempt)
    time.sleep(COOLDOWN / 2)

    for attempt in in_flight[2:]:
        throwaway.record_failure(attempt)

    assert [reading.trips for reading in breaker_states([throwaway])] == [1]
    time.sleep(COOLDOWN / 2 + 0.05)
    assert throwaway.state == HALF_OPEN  # one cool-down from the first opening, not from the late failures


# --- /health/ready ------------------------------------------------------------------------------


def test_readiness_is_ok_with_every_breakers_state_while_all_are_closed(client, settings, db):
    settings.HEALTH_DETAILS_TOKEN = TOKEN

    check = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=TOKEN).json()["checks"]["breakers"]

    assert check["status"] == "ok"
    assert check["required"] is False
    assert check["breakers"] == {"cloudfront": CLOSED, "dynamodb": CLOSED, "opensearch": CLOSED, "payment": CLOSED}


def test_readiness_is_degraded_naming_the_open_breakers(client, settings, db):
    settings.HEALTH_DETAILS_TOKEN = TOKEN
    breaker_named("payment").trip()
    breaker_named("cloudfront").trip()

    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=TOKEN)

    assert response.status_code == 200  # degraded, not down: the node stays in service
    body = response.json()
    assert body["status"] == "degraded"
    check = body["checks"]["breakers"]
    assert check["status"] == "degraded"
    assert check["error"] == "circuit breakers not closed: cloudfront open, payment open"
    assert check["breakers"] == {"cloudfront": OPEN, "dynamodb": CLOSED, "opensearch": CLOSED, "payment": OPEN}


def test_the_public_sees_only_the_status_of_an_open_breaker(client, db):
    breaker_named("payment").trip()

    assert client.get("/health/ready").json() == {"status": "degraded"}


# --- /metrics -----------------------------------------------------------------------------------


def _exported_trips(client) -> dict[str, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    return {
        sample.labels["breaker"]: sample.value
        for sample in families["cloudshelf_circuit_breaker_trips"].samples
        if sample.name == "cloudshelf_circuit_breaker_trips_total"
    }


def test_metrics_export_each_breakers_state_and_trips(client, settings, db):
    settings.METRICS_TOKEN = METRICS_TOKEN
    # The trips counter outlives a reset (Prometheus reads it as a total): earlier tests of
    # this run may have tripped breakers, so this one counts what it adds.
    before = _exported_trips(client)
    breaker_named("payment").trip()
    breaker_named("opensearch").trip()
    breaker_named("opensearch").reset()
    breaker_named("cloudfront").trip()
    breaker_named("cloudfront").reset()
    breaker_named("cloudfront").trip()

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")

    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.content.decode())}
    states = {sample.labels["breaker"]: sample.value for sample in families["cloudshelf_circuit_breaker_state"].samples}
    trips = {
        sample.labels["breaker"]: sample.value
        for sample in families["cloudshelf_circuit_breaker_trips"].samples
        if sample.name == "cloudshelf_circuit_breaker_trips_total"
    }
    assert states == {"cloudfront": 2.0, "dynamodb": 0.0, "opensearch": 0.0, "payment": 2.0}
    added = {name: trips[name] - before.get(name, 0.0) for name in trips}
    assert added == {"cloudfront": 2.0, "dynamodb": 0.0, "opensearch": 1.0, "payment": 1.0}


# --- Settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CLOUDFRONT_BREAKER_FAILURES", "0", "CLOUDFRONT_BREAKER_FAILURES=0 is below the minimum of 1"),
        ("CLOUDFRONT_BREAKER_COOLDOWN", "soon", "CLOUDFRONT_BREAKER_COOLDOWN='soon' is not a number"),
        ("CLOUDFRONT_BREAKER_WINDOW", "nan", "CLOUDFRONT_BREAKER_WINDOW=nan is not at most 86400 seconds"),
        ("CART_PAYMENT_BREAKER_FAILURES", "-1", "CART_PAYMENT_BREAKER_FAILURES=-1 is below the minimum of 1"),
        ("CART_PAYMENT_BREAKER_COOLDOWN", "1e9", "CART_PAYMENT_BREAKER_COOLDOWN=1000000000.0 is not at most 86400"),
        ("CART_PAYMENT_BREAKER_WINDOW", "0.5", "CART_PAYMENT_BREAKER_WINDOW=0.5 is below the minimum of 1"),
    ],
)
def test_a_bad_breaker_setting_stops_start_up_with_a_clear_error(monkeypatch, variable, value, message):
    with pytest.raises(ImproperlyConfiguredEnv) as refused:
        settings_for(monkeypatch, **{variable: value})

    assert message in str(refused.value)


def test_the_breaker_settings_have_working_defaults(monkeypatch):
    defaults = settings_for(monkeypatch, CLOUDFRONT_BREAKER_COOLDOWN=None, CART_PAYMENT_BREAKER_FAILURES=None)

    assert (defaults["CLOUDFRONT_BREAKER_FAILURES"], defaults["CLOUDFRONT_BREAKER_COOLDOWN"]) == (3, 60)
    assert (defaults["CART_PAYMENT_BREAKER_FAILURES"], defaults["CART_PAYMENT_BREAKER_COOLDOWN"]) == (3, 30)
