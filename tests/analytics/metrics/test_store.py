"""The rolling store: bucket edges, percentile maths, batched flushes, the embedded default, Redis down."""

from __future__ import annotations

import random
import time

import pytest
import redis.connection
from django.test import Client

from analytics.metrics import store
from analytics.metrics.store import (
    EDGES,
    OVERFLOW_BUCKET,
    RELATIVE_ERROR,
    RoutePercentiles,
    bucket_of,
    percentile_ms,
    server_percentiles,
)
from cloudshelf import redis_guard

NOW = int(time.time() // 60) * 60 + 20.0  # 20 s into the current minute


def exact_percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of the raw values: what the histogram estimates."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(fraction * len(ordered) + 0.999999) - 1))]


def test_buckets_are_log_spaced_48_per_decade_from_0_1_ms_to_100_s():
    assert (len(EDGES), EDGES[0], EDGES[1], OVERFLOW_BUCKET) == (290, 0.0, 0.1, 289)
    assert EDGES[49] == pytest.approx(1.0)
    assert EDGES[-1] == pytest.approx(100_000.0)
    assert all(EDGES[index + 1] / EDGES[index] == pytest.approx(1 + RELATIVE_ERROR) for index in range(1, 288))
    assert round(RELATIVE_ERROR, 4) == 0.0491


def test_every_edge_falls_in_the_bucket_it_starts():
    assert [bucket_of(edge) for edge in EDGES] == list(range(len(EDGES)))
    assert (bucket_of(-1.0), bucket_of(0.0999), bucket_of(10**9), bucket_of(float("inf"))) == (0, 0, 289, 289)


def test_a_percentile_interpolates_inside_its_bucket_exactly():
    bucket = bucket_of(100.0)
    low, high = EDGES[bucket], EDGES[bucket + 1]
    assert percentile_ms({bucket: 100}, 0.50) == pytest.approx(low + (high - low) * 0.50)
    assert percentile_ms({bucket: 100}, 0.95) == pytest.approx(low + (high - low) * 0.95)
    assert percentile_ms({bucket: 100}, 0.99) == pytest.approx(low + (high - low) * 0.99)


def test_a_two_bucket_split_puts_the_median_on_the_edge_between_them():
    low, high = bucket_of(10.0), bucket_of(1000.0)
    assert percentile_ms({low: 50, high: 50}, 0.50) == pytest.approx(EDGES[low + 1])
    # 95 of 100 below: p95 is the low bucket's top; p99 is 4/5 into the high bucket.
    assert percentile_ms({low: 95, high: 5}, 0.95) == pytest.approx(EDGES[low + 1])
    assert percentile_ms({low: 95, high: 5}, 0.99) == pytest.approx(EDGES[high] + (EDGES[high + 1] - EDGES[high]) * 0.8)


def test_overflow_reads_as_100_seconds_and_an_empty_histogram_as_none():
    assert percentile_ms({OVERFLOW_BUCKET: 3}, 0.99) == pytest.approx(100_000.0)
    assert percentile_ms({}, 0.5) is None
    assert percentile_ms({5: 0}, 0.5) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_percentiles_of_a_long_tailed_distribution_are_within_the_bucket_error(seed):
    generator = random.Random(seed)
    values = [generator.lognormvariate(3.5, 1.2) for _ in range(20_000)]  # median ~33 ms, a long tail
    counts: dict[int, int] = {}
    for value in values:
        counts[bucket_of(value)] = counts.get(bucket_of(value), 0) + 1
    for fraction in (0.50, 0.95, 0.99):
        exact = exact_percentile(values, fraction)
        assert percentile_ms(counts, fraction) == pytest.approx(exact, rel=RELATIVE_ERROR)


def _observe(route_class: str, durations: list[float], *, at: float, errors: int = 0) -> None:
    for index, duration in enumerate(durations):
        store.observe_request(route_class=route_class, duration_ms=duration, is_error=index < errors, at=at)


def test_server_percentiles_merge_the_minutes_of_the_window_from_redis():
    _observe("search", [40.0] * 90 + [900.0] * 10, at=NOW - 30 * 60, errors=2)  # inside the hour
    _observe("search", [40.0] * 100, at=NOW - 2 * 3600)  # inside the day only
    _observe("cart", [150.0], at=NOW)
    hour = server_percentiles(minutes=60, now=NOW)
    day = server_percentiles(minutes=1440, now=NOW)
    search_bucket, slow_bucket = bucket_of(40.0), bucket_of(900.0)
    assert hour["search"] == RoutePercentiles(
        route_class="search",
        count=100,
        errors=2,
        p50_ms=pytest.approx(EDGES[search_bucket] + (EDGES[search_bucket + 1] - EDGES[search_bucket]) * 50 / 90),
        p95_ms=pytest.approx(EDGES[slow_bucket] + (EDGES[slow_bucket + 1] - EDGES[slow_bucket]) * 0.5),
        p99_ms=pytest.approx(EDGES[slow_bucket] + (EDGES[slow_bucket + 1] - EDGES[slow_bucket]) * 0.9),
    )
    assert (day["search"].count, day["search"].errors) == (200, 2)
    assert (hour["cart"].count, hour["cart"].p50_ms) == (1, pytest.approx(150.0, rel=RELATIVE_ERROR))
    assert hour["page"] == RoutePercentiles("page", 0, 0, None, None, None)
    assert list(hour) == ["page", "search", "cart", "api", "admin", "static", "health", "other"]


def test_minutes_are_kept_in_the_durable_redis_with_a_ttl(settings):
    from django_redis import get_redis_connection

    _observe("page", [12.0, 13.0], at=NOW)
    store.flush()
    durable = get_redis_connection("durable")
    key = store.minute_key(int(NOW // 60))
    assert {field.decode(): int(value) for field, value in durable.hgetall(key).items()} == {
        f"page:b{bucket_of(12.0)}": 1,
        f"page:b{bucket_of(13.0)}": 1,
        "page:n": 2,
    }
    assert 0 < durable.ttl(key) <= settings.METRICS_RETENTION_HOURS * 3600
    assert "{metrics:" in key  # a hash tag of its own: Redis Cluster-safe


@pytest.mark.django_db
def test_requests_make_no_redis_call_until_a_flush_is_due(settings, monkeypatch):
    calls: list[str] = []
    real_redis = store._redis

    def counting_redis():
        calls.append("connection")
        return real_redis()

    monkeypatch.setattr(store, "_redis", counting_redis)
    client = Client()
    for _ in range(20):
        assert client.get("/health").status_code == 200
    assert calls == []  # 20 requests, counted in memory only
    settings.METRICS_FLUSH_SECONDS = 0
    assert client.get("/health").status_code == 200
    assert calls == ["connection"]  # the request that found the flush due wrote all 21 at once
    assert server_percentiles(minutes=60)["health"].count == 21


def test_a_flush_is_one_command_per_key_whatever_the_number_of_requests(monkeypatch):
    from redis.commands.core import Script

    real_redis = store._redis()
    commands: list[tuple[str, int]] = []

    class CountingRedis:
        """The durable Redis, noting each script call: (key, number of field/value arguments)."""

        def register_script(self, script):
            return Script(self, script)

        def evalsha(self, sha, number_of_keys, *keys_and_args):
            commands.append((keys_and_args[0], len(keys_and_args) - 2))
            return real_redis.evalsha(sha, number_of_keys, *keys_and_args)

        def __getattr__(self, name):
            return getattr(real_redis, name)

    monkeypatch.setattr(store, "_redis", CountingRedis)
    _observe("page", [5.0] * 500 + [50.0] * 500, at=NOW)
    _observe("cart", [7.0] * 10, at=NOW - 60, errors=1)
    store.flush()
    # Each minute: its buckets, count (and errors); the totals: each class's buckets, count, sum (and errors).
    assert commands == [
        (store.minute_key(int(NOW // 60)), 3 * 2),
        (store.minute_key(int(NOW // 60) - 1), 3 * 2),
        (store.totals_key(), (4 + 4) * 2),
    ]
    hour = server_percentiles(minutes=60, now=NOW)
    assert (hour["page"].count, hour["cart"].count, hour["cart"].errors) == (1000, 10, 1)
    assert store.read_totals()["route:page:s"] == pytest.approx(500 * 0.005 + 500 * 0.05)


def test_redis_down_drops_the_counts_and_never_fails_a_request(settings, emf_lines, monkeypatch):
    host, port = settings.CACHES["durable"]["LOCATION"].removeprefix("redis://").split("/")[0].split(":")
    settings.METRICS_FLUSH_SECONDS = 0
    # What reached the durable Redis's socket: a connect or a command would each wait out a
    # socket timeout against a server that is really down.
    reached: list[str] = []
    for method in ("_connect", "send_packed_command"):
        original = getattr(redis.connection.Connection, method)

        def recording(self, *args, _original=original, _method=method, **kwargs):
            if (self.host, self.port) == (host, int(port)):
                reached.append(_method)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(redis.connection.Connection, method, recording)
    redis_guard.mark_down(host, int(port), "test: the durable Redis is down")
    try:
        response = Client().get("/health")
    finally:
        redis_guard.forget(host, int(port))
    assert response.status_code == 200
    assert reached == []  # failed fast: nothing was sent, so no socket timeout was waited for
    assert len(emf_lines.lines) == 1  # the EMF line does not depend on Redis
    assert server_percentiles(minutes=60)["health"].count == 0  # those counts were dropped


def test_the_embedded_default_keeps_the_store_in_process(settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(store, "_redis", lambda: pytest.fail("no Redis on the embedded default"))
    _observe("api", [100.0] * 10, at=NOW)
    _observe("api", [100.0] * 5, at=NOW - 26 * 3600)  # older than the retention: pruned
    percentiles = server_percentiles(minutes=60, now=NOW)["api"]
    assert (percentiles.count, percentiles.p50_ms) == (10, pytest.approx(100.0, rel=RELATIVE_ERROR))
    assert store.read_totals()["route:api:n"] == 15


@pytest.mark.parametrize("minutes", [0, -5, 25 * 60 + 1, 10**9])
def test_a_window_outside_the_retention_is_refused(minutes):
    with pytest.raises(ValueError, match="minutes must be between 1 and 1500"):
        server_percentiles(minutes=minutes)


def test_foreign_or_corrupt_fields_in_a_minute_are_ignored():
    from django_redis import get_redis_connection

    key = store.minute_key(int(NOW // 60))
    get_redis_connection("durable").hset(
        key, mapping={"page:n": 1, f"page:b{bucket_of(20.0)}": 1, "page:bxyz": 7, "page:b99999": 7, "nonsense:n": 9}
    )
    percentiles = server_percentiles(minutes=1, now=NOW)
    assert (percentiles["page"].count, percentiles["page"].p50_ms) == (1, pytest.approx(20.0, rel=RELATIVE_ERROR))
