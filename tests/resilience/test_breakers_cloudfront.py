"""The cloudfront breaker around invalidations (cloudshelf.edge.cdn): against moto, a CloudFront
that answers 503 (counted where the calls arrive) and one that refuses connections."""

from __future__ import annotations

import os
import time

import pytest

from cloudshelf.breaker import CLOSED, HALF_OPEN, OPEN
from cloudshelf.edge import cdn
from cloudshelf.edge.cdn import cloudfront_breaker, invalidate_paths
from tests.edge.conftest import free_port
from tests.edge.test_cdn import cloudfront_client, distribution, invalidations, paths_of, scheduled  # noqa: F401
from tests.resilience.conftest import COOLDOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def breaker_settings(settings, distribution):  # noqa: F811
    settings.CLOUDFRONT_BREAKER_FAILURES = 2
    settings.CLOUDFRONT_BREAKER_COOLDOWN = COOLDOWN
    return settings


def test_calls_cloudfront_cannot_answer_open_the_breaker_then_no_call_is_made(breaker_settings, sick_server):
    breaker_settings.AWS_ENDPOINT_URL = sick_server.url
    invalidate_paths(["/books/dune/"])

    reports = [cdn.flush_invalidations() for _ in range(3)]

    assert sick_server.calls == 2  # the third run did not call
    assert cloudfront_breaker.state == OPEN
    assert reports[2].retry_in == COOLDOWN
    in_flight = cdn.pending_store().cdn_in_flight()
    assert in_flight is not None
    assert (in_flight.paths, in_flight.attempts) == (["/books/dune/"], 2)  # skipped runs use no attempt


def test_while_open_new_paths_stay_pending_and_nothing_is_lost(breaker_settings, scheduled):  # noqa: F811
    cloudfront_breaker.trip()
    invalidate_paths(["/books/dune/", "/authors/frank-herbert/"])
    scheduled.clear()

    report = cdn.flush_invalidations()

    assert report.invalidation_ids == []
    assert report.retry_in == COOLDOWN
    assert [call["countdown"] for call in scheduled] == [COOLDOWN]  # the flush comes back after the cool-down
    assert cdn.pending_store().cdn_pending() == {"/books/dune/", "/authors/frank-herbert/"}
    assert cdn.pending_store().cdn_in_flight() is None


def test_after_the_cooldown_the_probe_sends_what_waited_and_closes_the_breaker(
    breaker_settings,
    cloudfront_client,  # noqa: F811
    distribution,  # noqa: F811
):
    cloudfront_breaker.trip()
    invalidate_paths(["/books/dune/", "/authors/frank-herbert/"])
    cdn.flush_invalidations()
    time.sleep(COOLDOWN + 0.05)
    assert cloudfront_breaker.state == HALF_OPEN

    report = cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert len(found) == 1
    assert paths_of(found[0]) == ["/authors/frank-herbert/", "/books/dune/"]
    assert report.invalidation_ids == [found[0]["Id"]]
    assert cloudfront_breaker.state == CLOSED
    assert cdn.pending_store().cdn_pending() == set()


def test_a_failed_probe_opens_it_again_and_keeps_the_batch(breaker_settings, sick_server):
    breaker_settings.AWS_ENDPOINT_URL = sick_server.url
    invalidate_paths(["/books/dune/"])
    cdn.flush_invalidations()
    cdn.flush_invalidations()
    time.sleep(COOLDOWN + 0.05)

    cdn.flush_invalidations()  # the probe
    cdn.flush_invalidations()  # open again: no call

    assert sick_server.calls == 3
    assert cloudfront_breaker.state == OPEN
    assert cdn.pending_store().cdn_in_flight().paths == ["/books/dune/"]


def test_an_unreachable_cloudfront_opens_it_and_the_batch_goes_out_once_it_is_back(
    breaker_settings,
    cloudfront_client,  # noqa: F811
    distribution,  # noqa: F811
):
    breaker_settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # connection refused
    invalidate_paths(["/books/dune/"])
    cdn.flush_invalidations()
    cdn.flush_invalidations()
    assert cloudfront_breaker.state == OPEN
    reference = cdn.pending_store().cdn_in_flight().reference
    breaker_settings.AWS_ENDPOINT_URL = os.environ["AWS_ENDPOINT_URL"]
    time.sleep(COOLDOWN + 0.05)

    cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert [invalidation["InvalidationBatch"]["CallerReference"] for invalidation in found] == [reference]
    assert cloudfront_breaker.state == CLOSED


def test_a_batch_cloudfront_refuses_does_not_count_against_the_breaker(breaker_settings):
    breaker_settings.CLOUDFRONT_DISTRIBUTION_ID = "EDOESNOTEXIST"  # moto answers NoSuchDistribution

    for number in range(3):
        invalidate_paths([f"/books/{number}/"])
        cdn.flush_invalidations()

    assert cloudfront_breaker.state == CLOSED
