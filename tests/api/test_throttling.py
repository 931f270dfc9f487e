"""Per-partner rate limits, kept in Redis so they hold across worker processes."""

from __future__ import annotations

import multiprocessing
import os
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from cloudshelf.ratelimit import rate_limit_hit
from partners.plans import PLAN_LIMITS, Plan, RateLimit
from tests.api.conftest import dead_redis, key_client
from tests.api.factories import PartnerFactory, issue_key
from tests.api.throttle_worker import call_api

pytestmark = pytest.mark.django_db

# A bucket that does not refill during a test: exactly ``burst`` requests get through.
NO_REFILL = {"custom_rate_per_second": Decimal("0.001"), "custom_burst": 5}


def limited_client(**limits) -> Client:
    return key_client(issue_key(PartnerFactory(**limits)).raw_key)


def test_a_bucket_allows_its_burst_then_refuses():
    bucket = f"unit:{os.getpid()}:burst"
    limit = RateLimit(rate=0.01, burst=3)

    decisions = [rate_limit_hit(bucket=bucket, limit=limit) for _ in range(4)]

    assert [decision.is_allowed for decision in decisions] == [True, True, True, False]
    assert [decision.remaining for decision in decisions] == [2, 1, 0, 0]
    assert 99 < decisions[3].retry_after_seconds <= 100  # one request refills in 1/0.01 s
    assert decisions[3].headers()["Retry-After"] == "100"


def test_a_bucket_refills_at_its_rate():
    bucket = f"unit:{os.getpid()}:refill"
    # A token every 100 ms: the second call comes well within it even on a loaded machine (at
    # 1,000/s a millisecond's delay between the two calls refilled the bucket and the test flaked).
    limit = RateLimit(rate=10, burst=1)

    assert rate_limit_hit(bucket=bucket, limit=limit).is_allowed
    refused = rate_limit_hit(bucket=bucket, limit=limit)
    assert not refused.is_allowed
    time.sleep(0.15)
    assert rate_limit_hit(bucket=bucket, limit=limit).is_allowed


def test_over_the_limit_is_429_with_retry_after_and_the_error_shape(db):
    client = limited_client(**NO_REFILL)

    statuses = [client.get("/api/v1/categories/").status_code for _ in range(5)]
    refused = client.get("/api/v1/categories/")

    assert statuses == [200] * 5
    assert refused.status_code == 429
    assert refused.json() == {
        "code": "throttled",
        "message": "Too many requests for this plan; retry after the Retry-After seconds.",
        "fields": {},
    }
    assert refused["Retry-After"] == "1000"
    assert refused["RateLimit-Remaining"] == "0"


def test_every_answer_carries_the_rate_limit_headers(db):
    client = limited_client(**NO_REFILL)

    answers = [
        client.get("/api/v1/categories/"),  # 200
        client.get("/api/v1/books/?page_size=0"),  # 400
        client.get("/api/v1/books/987654321/"),  # 404
        client.get("/api/v1/nowhere/"),  # 404 outside DRF
        client.delete("/api/v1/books/"),  # 405
        client.get("/api/v1/categories/"),  # 429
    ]

    assert [answer.status_code for answer in answers] == [200, 400, 404, 404, 405, 429]
    assert [answer["RateLimit-Remaining"] for answer in answers] == ["4", "3", "2", "1", "0", "0"]
    for answer in answers:
        assert answer["RateLimit-Limit"] == "5"
        assert answer["RateLimit-Policy"] == "5;w=5000"
        assert int(answer["RateLimit-Reset"]) > 0


def test_partners_have_separate_buckets(db):
    first, second = limited_client(**NO_REFILL), limited_client(**NO_REFILL)
    for _ in range(5):
        first.get("/api/v1/categories/")

    assert first.get("/api/v1/categories/").status_code == 429
    assert second.get("/api/v1/categories/").status_code == 200


def test_plans_set_the_bucket():
    partner = PartnerFactory(plan=Plan.STARTER)

    assert partner.rate_limit == RateLimit(rate=10, burst=20)
    assert PLAN_LIMITS[Plan.GROWTH] == RateLimit(rate=50, burst=100)


def test_calls_without_a_valid_key_share_a_bucket_per_address(db, settings):
    settings.API_ANONYMOUS_RATE_PER_SECOND, settings.API_ANONYMOUS_BURST = 0.001, 2
    anonymous = Client(REMOTE_ADDR="10.9.8.7")

    answers = [anonymous.get("/api/v1/books/", HTTP_X_API_KEY="cs_live_wrong") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [401, 401, 429]
    assert answers[0]["RateLimit-Limit"] == "2"
    assert Client(REMOTE_ADDR="10.9.8.6").get("/api/v1/schema/").status_code == 200


def test_the_limiter_fails_open_when_redis_is_unreachable(api, monkeypatch):
    dead = dead_redis()
    monkeypatch.setattr("django_redis.get_redis_connection", lambda alias="default": dead)

    response = api.get("/api/v1/categories/")

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response


def test_without_redis_the_cache_api_keeps_the_bucket(db, settings):
    settings.REDIS_URL = ""
    client = limited_client(custom_rate_per_second=Decimal("0.001"), custom_burst=2)

    assert [client.get("/api/v1/categories/").status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_two_worker_processes(settings):
    """Two real processes, each with its own Redis connection, spend one partner's bucket together.

    Each sends 8 requests at the same moment; the bucket holds 10 and does not refill during
    the test, so exactly 10 of the 16 get through, whichever process sent them.
    """
    issued = issue_key(PartnerFactory(custom_rate_per_second=Decimal("0.001"), custom_burst=10))
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    workers = [
        context.Process(
            target=call_api, args=(connection.settings_dict["NAME"], prefix, issued.raw_key, 8, start, results)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    reports = dict(results.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=30)

    assert len(reports) == 2  # two distinct processes answered
    answers = [answer for per_process in reports.values() for answer in per_process]
    statuses = [status for status, _, _ in answers]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 6
    assert all(remaining is not None for _, remaining, _ in answers)
    assert all(retry_after == "1000" for status, _, retry_after in answers if status == 429)
    assert sorted(int(remaining) for status, remaining, _ in answers if status == 200) == list(range(10))
