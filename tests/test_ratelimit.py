"""cloudshelf.ratelimit: GCRA buckets and exact sliding windows on the durable Redis."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.core.cache import caches
from django_redis import get_redis_connection

from cloudshelf.ratelimit import (
    RateLimit,
    SiteLimit,
    Window,
    address_subject,
    rate_limit_hit,
    window_release,
    window_reserve,
)
from tests.api.conftest import dead_redis


def bucket(name: str) -> str:
    return f"unit:{os.getpid()}:{name}"


def test_buckets_live_on_the_durable_redis_not_the_evictable_cache(settings):
    if settings.REDIS_CLUSTER:  # one database per cluster: the durable alias told apart by its prefix
        durable = {"KEY_PREFIX": f"durable{os.getpid()}"}
    else:
        durable = {"LOCATION": settings.CACHES["default"]["LOCATION"].rsplit("/", 1)[0] + "/5"}
    settings.CACHES = {**settings.CACHES, "durable": {**settings.CACHES["durable"], **durable}}

    rate_limit_hit(bucket=bucket("where"), limit=RateLimit(rate=1, burst=5))
    window_reserve(bucket=bucket("where"), windows=[Window(limit=5, seconds=60)])

    durable_keys = get_redis_connection("durable").keys(f"{caches['durable'].make_key('ratelimit:')}*")
    default_keys = get_redis_connection("default").keys(f"{caches['default'].make_key('*ratelimit:')}*")
    get_redis_connection("durable").delete(*durable_keys)
    assert len(durable_keys) == 2
    assert default_keys == []


def test_a_window_allows_its_limit_then_refuses_until_the_oldest_attempt_ages_out():
    windows = [Window(limit=3, seconds=60)]

    decisions = [window_reserve(bucket=bucket("three"), windows=windows) for _ in range(4)]

    assert [decision.is_allowed for decision in decisions] == [True, True, True, False]
    assert 59 < decisions[3].retry_after_seconds <= 60
    assert decisions[3].headers() == {"Retry-After": "60"}


def test_the_tightest_of_several_windows_refuses():
    windows = [Window(limit=10, seconds=900), Window(limit=2, seconds=3600)]

    decisions = [window_reserve(bucket=bucket("two-windows"), windows=windows) for _ in range(3)]

    assert [decision.is_allowed for decision in decisions] == [True, True, False]
    assert 3599 < decisions[2].retry_after_seconds <= 3600


def test_a_released_attempt_no_longer_counts():
    windows = [Window(limit=2, seconds=60)]
    first = window_reserve(bucket=bucket("release"), windows=windows)
    window_reserve(bucket=bucket("release"), windows=windows)

    window_release(bucket=bucket("release"), token=first.token)

    assert window_reserve(bucket=bucket("release"), windows=windows).is_allowed
    assert not window_reserve(bucket=bucket("release"), windows=windows).is_allowed


def test_concurrent_attempts_never_exceed_the_window():
    """Forty simultaneous attempts against a limit of 10: the check and the count are one step."""
    windows = [Window(limit=10, seconds=900)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        decisions = list(pool.map(lambda _: window_reserve(bucket=bucket("race"), windows=windows), range(40)))

    assert sum(decision.is_allowed for decision in decisions) == 10


def test_a_window_of_zero_is_off():
    decisions = [window_reserve(bucket=bucket("off"), windows=[Window(limit=0, seconds=60)]) for _ in range(5)]

    assert all(decision.is_allowed for decision in decisions)


def test_without_redis_the_cache_keeps_the_window(settings):
    settings.REDIS_URL = ""
    windows = [Window(limit=2, seconds=60)]

    first = window_reserve(bucket=bucket("cache"), windows=windows)
    second = window_reserve(bucket=bucket("cache"), windows=windows)
    refused = window_reserve(bucket=bucket("cache"), windows=windows)
    window_release(bucket=bucket("cache"), token=first.token)

    assert [first.is_allowed, second.is_allowed, refused.is_allowed] == [True, True, False]
    assert 59 < refused.retry_after_seconds <= 60
    assert window_reserve(bucket=bucket("cache"), windows=windows).is_allowed


def test_the_limiters_fail_open_when_redis_is_unreachable(monkeypatch, caplog):
    dead = dead_redis()
    monkeypatch.setattr("django_redis.get_redis_connection", lambda alias="default": dead)

    assert window_reserve(bucket=bucket("dead"), windows=[Window(limit=1, seconds=60)]) is None
    assert rate_limit_hit(bucket=bucket("dead"), limit=RateLimit(rate=1, burst=1)) is None
    window_release(bucket=bucket("dead"), token="abc")  # no exception either
    assert "rate limiter unavailable" in caplog.text
    with pytest.raises(redis.ConnectionError):
        dead.ping()


def test_a_site_limit_allows_its_count_per_subject(settings):
    settings.SEARCHES_PER_ADDRESS_MINUTE = 2
    limit = SiteLimit(name="search", setting="SEARCHES_PER_ADDRESS_MINUTE", window_seconds=60)

    decisions = [limit.hit("198.51.100.7") for _ in range(3)]

    assert [decision.is_allowed for decision in decisions] == [True, True, False]
    assert 29 < decisions[2].retry_after_seconds <= 30  # one request refills in 60 s / 2
    assert limit.hit("198.51.100.8").is_allowed


def test_a_site_limit_is_off_at_zero_and_with_the_switch(settings):
    limit = SiteLimit(name="search", setting="SEARCHES_PER_ADDRESS_MINUTE", window_seconds=60)
    settings.SEARCHES_PER_ADDRESS_MINUTE = 0
    assert limit.hit("198.51.100.7") is None

    settings.SEARCHES_PER_ADDRESS_MINUTE, settings.RATE_LIMITS_ENABLED = 1, False
    assert [limit.hit("198.51.100.7") for _ in range(3)] == [None, None, None]


@pytest.mark.parametrize(
    ("address", "subject"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("unknown", "unknown"),
    ],
)
def test_ipv6_clients_share_a_bucket_per_64(address, subject):
    assert address_subject(address) == subject
