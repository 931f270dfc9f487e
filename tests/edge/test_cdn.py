"""CloudFront invalidation (against the moto server) and PURGE to the local HTTP cache
(a tiny threaded HTTP server that records what it is sent), queued by invalidate_paths."""

from __future__ import annotations

import os
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from catalog.services import books_adjust_price
from cloudshelf.celery import app as celery_app
from cloudshelf.edge import cdn, tasks
from cloudshelf.edge.cdn import InvalidPathError, collapse_paths, invalidate_paths, normalise_path
from tests.edge.conftest import free_port
from tests.factories import BookFactory
from tests.workers import real_worker

ROOT = Path(__file__).resolve().parents[2]


# --- Fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def scheduled(monkeypatch):
    """Flushes queued by the code under test (recorded, not sent to a broker nobody reads)."""
    calls: list[dict] = []
    monkeypatch.setattr(tasks.cdn_flush_invalidations, "apply_async", lambda **kwargs: calls.append(kwargs))
    return calls


@pytest.fixture
def cloudfront_client():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("AWS_ENDPOINT_URL is not set: run the tests with `make pytest` (TEST_ENV starts moto)")
    return boto3.client("cloudfront", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture
def distribution(settings, cloudfront_client, scheduled):
    """A distribution of its own in moto; CLOUDFRONT_* settings pointing at it, no rate limit."""
    answer = cloudfront_client.create_distribution(
        DistributionConfig={
            "CallerReference": uuid.uuid4().hex,
            "Comment": "cloudshelf test",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "origin",
                        "DomainName": "shop.cloudshelf.test",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only",
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "origin",
                "ViewerProtocolPolicy": "redirect-to-https",
                "ForwardedValues": {"QueryString": True, "Cookies": {"Forward": "none"}},
                "MinTTL": 0,
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    distribution_id = answer["Distribution"]["Id"]
    settings.AWS_ENDPOINT_URL = os.environ["AWS_ENDPOINT_URL"]
    settings.CLOUDFRONT_DISTRIBUTION_ID = distribution_id
    settings.CLOUDFRONT_INVALIDATION_INTERVAL = 0
    settings.CLOUDFRONT_INVALIDATION_BATCH = 100
    settings.CLOUDFRONT_MAX_PATHS_PER_RUN = 500
    settings.HTTP_CACHE_PURGE_URL = ""
    return distribution_id


def invalidations(client, distribution_id: str) -> list[dict]:
    """Every invalidation of the distribution, oldest first, with its paths and reference."""
    items = client.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    found = [client.get_invalidation(DistributionId=distribution_id, Id=item["Id"])["Invalidation"] for item in items]
    return sorted(found, key=lambda invalidation: invalidation["CreateTime"])


def paths_of(invalidation: dict) -> list[str]:
    return sorted(invalidation["InvalidationBatch"]["Paths"].get("Items", []))


class PurgeRecorder(ThreadingHTTPServer):
    """A stand-in for the local HTTP cache: answers PURGE with ``status_for(path)``, records each."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.status_for = lambda path: 200
        super().__init__(("127.0.0.1", 0), _PurgeHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _PurgeHandler(BaseHTTPRequestHandler):
    server: PurgeRecorder

    def do_PURGE(self) -> None:
        self.server.requests.append((self.command, self.path))
        self.send_response(self.server.status_for(self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def purge_server(settings, scheduled):
    server = PurgeRecorder()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.HTTP_CACHE_PURGE_URL = server.url
    settings.CLOUDFRONT_DISTRIBUTION_ID = ""
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# --- Validation -------------------------------------------------------------------------------------


def test_paths_are_percent_encoded_where_cloudfront_requires_it():
    assert normalise_path("/books/dune/") == "/books/dune/"
    assert normalise_path("/search/?q=le petit prince&page=2") == "/search/?q=le%20petit%20prince&page=2"
    assert normalise_path("/authors/émile-zola/") == "/authors/%C3%A9mile-zola/"
    assert normalise_path("/authors/%C3%A9mile-zola/") == "/authors/%C3%A9mile-zola/"  # not encoded twice
    assert normalise_path("/books/*") == "/books/*"


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (42, TypeError, "must be a string"),
        (b"/books/", TypeError, "must be a string"),
        (None, TypeError, "must be a string"),
        ("books/dune/", InvalidPathError, "start with '/'"),
        ("", InvalidPathError, "start with '/'"),
        ("/books/\ndune/", InvalidPathError, "control characters"),
        ("/books/\x00", InvalidPathError, "control characters"),
        ("/books/\x7f", InvalidPathError, "control characters"),
        ("/books/dune/#reviews", InvalidPathError, "fragment"),
        ("/books/*/reviews", InvalidPathError, "only at the end"),
        ("/" + "a" * 2000, InvalidPathError, "at most 2000"),
    ],
)
def test_bad_paths_are_refused_with_a_reason_and_nothing_is_queued(distribution, scheduled, path, error, message):
    with pytest.raises(error, match=message):
        invalidate_paths(["/books/fine/", path])

    assert cdn.pending_store().cdn_pending() == set()
    assert scheduled == []


def test_one_string_instead_of_a_list_is_refused(distribution, scheduled):
    with pytest.raises(TypeError, match="not one string"):
        invalidate_paths("/books/dune/")  # type: ignore[arg-type]

    assert scheduled == []


def test_more_paths_than_one_call_may_carry_are_refused_and_nothing_is_queued(distribution, scheduled):
    with pytest.raises(InvalidPathError, match="wildcard"):
        invalidate_paths(f"/books/{number}/" for number in range(cdn.MAX_PATHS_PER_CALL + 1))

    assert cdn.pending_store().cdn_pending() == set()
    assert scheduled == []


def test_with_neither_cloudfront_nor_a_local_cache_nothing_is_queued(settings, scheduled):
    settings.CLOUDFRONT_DISTRIBUTION_ID = ""
    settings.HTTP_CACHE_PURGE_URL = ""

    invalidate_paths(["/books/dune/"])

    assert scheduled == []
    assert cdn.pending_store().cdn_pending() == set()


def test_queueing_never_fails_the_commit_that_called_it(distribution, scheduled, monkeypatch, caplog):
    def redis_is_down():
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cdn, "pending_store", redis_is_down)

    invalidate_paths(["/books/dune/"])

    assert scheduled == []
    assert "could not queue 1 paths" in caplog.text


# --- Debounce and the CloudFront call -------------------------------------------------------------------


def test_a_burst_of_changes_queues_one_flush(distribution, scheduled, settings):
    invalidate_paths(["/books/dune/", "/books/dune/"])
    invalidate_paths(["/books/emma/"])
    invalidate_paths(["/"])

    assert len(scheduled) == 1
    assert scheduled[0]["countdown"] == settings.EDGE_INVALIDATION_DEBOUNCE_SECONDS
    assert scheduled[0]["args"] == [cdn.pending_store().namespace]
    assert cdn.pending_store().cdn_pending() == {"/books/dune/", "/books/emma/", "/"}


def test_the_flush_creates_one_invalidation_with_exactly_the_queued_paths(distribution, cloudfront_client):
    invalidate_paths(["/books/dune/", "/authors/frank-herbert/", "/books/dune/"])

    report = cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert len(found) == 1
    assert paths_of(found[0]) == ["/authors/frank-herbert/", "/books/dune/"]
    assert report.invalidation_ids == [found[0]["Id"]]
    assert report.retry_in is None
    assert cdn.pending_store().cdn_pending() == set()
    assert cdn.pending_store().cdn_in_flight() is None


def test_running_the_flush_again_sends_nothing_twice(distribution, cloudfront_client):
    invalidate_paths(["/books/dune/"])
    cdn.flush_invalidations()

    second = cdn.flush_invalidations()

    assert len(invalidations(cloudfront_client, distribution)) == 1
    assert second.invalidation_ids == []


@pytest.mark.django_db(transaction=True)
def test_a_price_change_invalidates_the_book_page_at_cloudfront(client, distribution, cloudfront_client, scheduled):
    book = BookFactory(price=Decimal("10.00"))
    assert client.get(book.get_absolute_url()).status_code == 200  # the page cache notes which paths show it

    books_adjust_price(book_ids=[book.pk], percent=Decimal("-10"))  # commits, then announces the change

    assert len(scheduled) == 1
    cdn.flush_invalidations()
    found = invalidations(cloudfront_client, distribution)
    assert len(found) == 1
    assert book.get_absolute_url() in paths_of(found[0])


def test_paths_are_sent_in_batches_of_at_most_the_limit(distribution, cloudfront_client, settings):
    settings.CLOUDFRONT_INVALIDATION_BATCH = 2
    paths = [f"/books/book-{number}/" for number in range(5)]
    invalidate_paths(paths)

    cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert [len(paths_of(invalidation)) for invalidation in found] == [2, 2, 1]
    assert sorted(path for invalidation in found for path in paths_of(invalidation)) == sorted(paths)


def test_at_most_one_call_per_interval_and_the_rest_waits_for_the_next_run(
    distribution, cloudfront_client, settings, scheduled
):
    settings.CLOUDFRONT_INVALIDATION_BATCH = 2
    settings.CLOUDFRONT_INVALIDATION_INTERVAL = 60
    invalidate_paths([f"/books/book-{number}/" for number in range(5)])
    scheduled.clear()

    first = cdn.flush_invalidations()
    second = cdn.flush_invalidations()  # a duplicate run within the interval

    assert len(invalidations(cloudfront_client, distribution)) == 1
    assert len(first.invalidated) == 2
    assert second.invalidated == []
    assert 55 < first.retry_in <= 60
    assert 55 < scheduled[0]["countdown"] <= 60
    assert len(cdn.pending_store().cdn_pending()) == 3


def test_more_pending_paths_than_a_run_allows_collapse_into_wildcards(distribution, cloudfront_client, settings):
    settings.CLOUDFRONT_MAX_PATHS_PER_RUN = 3
    invalidate_paths([f"/books/book-{number}/" for number in range(cdn.MAX_PATHS_PER_CALL)])
    invalidate_paths(["/authors/frank-herbert/", "/"])

    cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert [paths_of(invalidation) for invalidation in found] == [["/", "/authors/frank-herbert/", "/books/*"]]
    assert cdn.pending_store().cdn_pending() == set()


def test_collapsing_makes_wildcards_of_the_biggest_groups_first():
    paths = ["/books/a/", "/books/b/", "/books/c/", "/authors/x/", "/authors/y/", "/categories/z/"]

    assert collapse_paths(paths, 10) == sorted(paths)
    assert collapse_paths(paths, 4) == ["/authors/x/", "/authors/y/", "/books/*", "/categories/z/"]
    assert collapse_paths(paths, 3) == ["/authors/*", "/books/*", "/categories/z/"]
    assert collapse_paths(paths, 1) == ["/*"]
    assert collapse_paths(["/books/*", "/books/a/", "/books/?page=2", "/"], 10) == ["/", "/books/*"]


def test_a_failed_call_is_retried_later_with_the_same_caller_reference(
    distribution, cloudfront_client, settings, scheduled
):
    invalidate_paths(["/books/dune/"])
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"  # CloudFront unreachable
    scheduled.clear()

    failed = cdn.flush_invalidations()

    in_flight = cdn.pending_store().cdn_in_flight()
    assert failed.invalidation_ids == []
    assert in_flight is not None
    assert in_flight.paths == ["/books/dune/"]
    assert in_flight.attempts == 1
    assert 0 < failed.retry_in <= cdn.RETRY_BASE_SECONDS
    assert scheduled[0]["countdown"] == failed.retry_in
    settings.AWS_ENDPOINT_URL = os.environ["AWS_ENDPOINT_URL"]

    cdn.flush_invalidations()

    found = invalidations(cloudfront_client, distribution)
    assert len(found) == 1
    assert found[0]["InvalidationBatch"]["CallerReference"] == in_flight.reference
    assert paths_of(found[0]) == ["/books/dune/"]
    assert cdn.pending_store().cdn_in_flight() is None


def test_a_batch_cloudfront_refuses_is_dropped_not_retried_for_ever(distribution, settings, scheduled, caplog):
    settings.CLOUDFRONT_DISTRIBUTION_ID = "ENOSUCHDISTRIBUTION"
    invalidate_paths(["/books/dune/"])
    scheduled.clear()

    report = cdn.flush_invalidations()

    assert report.invalidation_ids == []
    assert report.retry_in is None
    assert scheduled == []
    assert cdn.pending_store().cdn_in_flight() is None
    assert "dropped invalidation" in caplog.text


def test_backoff_grows_with_attempts_and_keeps_jitter():
    delays = [cdn._backoff(attempt) for attempt in range(1, 12) for _ in range(20)]

    assert all(0 < delay <= cdn.RETRY_MAX_SECONDS for delay in delays)
    assert min(cdn._backoff(6) for _ in range(20)) > max(cdn._backoff(1) for _ in range(20))
    assert len({round(cdn._backoff(5), 6) for _ in range(20)}) > 1


# --- PURGE to the local HTTP cache -----------------------------------------------------------------------


def test_each_path_is_purged_from_the_local_cache(purge_server):
    invalidate_paths(["/books/dune/", "/search/?q=le petit prince", "/books/*"])

    report = cdn.flush_invalidations()

    assert sorted(purge_server.requests) == [("PURGE", "/books/dune/"), ("PURGE", "/search/?q=le%20petit%20prince")]
    assert sorted(report.purged) == ["/books/dune/", "/search/?q=le%20petit%20prince"]
    assert report.retry_in is None


def test_a_path_the_cache_did_not_hold_counts_as_purged(purge_server):
    purge_server.status_for = lambda path: 404
    invalidate_paths(["/books/dune/"])

    report = cdn.flush_invalidations()

    assert report.purged == ["/books/dune/"]
    assert report.purge_failures == []


def test_a_failed_purge_is_retried_a_few_times_then_given_up(purge_server, scheduled, caplog):
    purge_server.status_for = lambda path: 500
    invalidate_paths(["/books/dune/"])

    runs = [cdn.flush_invalidations() for _ in range(cdn.MAX_ATTEMPTS + 2)]

    assert len(purge_server.requests) == cdn.MAX_ATTEMPTS
    assert [run.purge_failures for run in runs[: cdn.MAX_ATTEMPTS]] == [["/books/dune/"]] * cdn.MAX_ATTEMPTS
    assert runs[0].retry_in is not None
    assert runs[-1].retry_in is None
    assert "gave up purging 1 paths" in caplog.text


def test_an_unreachable_cache_costs_one_short_try_per_run(settings, scheduled):
    settings.CLOUDFRONT_DISTRIBUTION_ID = ""
    settings.HTTP_CACHE_PURGE_URL = f"http://127.0.0.1:{free_port()}"
    invalidate_paths([f"/books/book-{number}/" for number in range(50)])

    started = time.monotonic()
    report = cdn.flush_invalidations()

    assert time.monotonic() - started < 2
    assert report.purged == []
    assert len(report.purge_failures) == 50
    assert report.retry_in is not None


def test_both_caches_are_told(distribution, purge_server, cloudfront_client, settings):
    settings.CLOUDFRONT_DISTRIBUTION_ID = distribution
    invalidate_paths(["/books/dune/"])

    cdn.flush_invalidations()

    assert purge_server.requests == [("PURGE", "/books/dune/")]
    assert [paths_of(invalidation) for invalidation in invalidations(cloudfront_client, distribution)] == [
        ["/books/dune/"]
    ]


# --- A real worker ----------------------------------------------------------------------------------------


def test_the_flush_task_is_registered_under_its_name():
    celery_app.loader.import_default_modules()

    assert "cloudshelf.edge.tasks.cdn_flush_invalidations" in celery_app.tasks


def test_a_flush_for_another_namespace_is_left_alone(distribution, cloudfront_client):
    invalidate_paths(["/books/dune/"])

    assert tasks.cdn_flush_invalidations.run("someone-else:1:edge:invalidation") == 0
    assert invalidations(cloudfront_client, distribution) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_sends_a_burst_as_one_invalidation(settings, cloudfront_client, distribution, monkeypatch):
    monkeypatch.undo()  # real apply_async: through Redis to the worker
    settings.EDGE_INVALIDATION_DEBOUNCE_SECONDS = 0.5
    environment = {
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "CLOUDFRONT_DISTRIBUTION_ID": distribution,
        "CLOUDFRONT_INVALIDATION_INTERVAL": "0",
    }
    with real_worker("edge", environment) as worker:
        for number in range(5):
            invalidate_paths([f"/books/book-{number}/"])

        deadline = time.monotonic() + 15
        while not invalidations(cloudfront_client, distribution):
            worker.assert_alive()
            assert time.monotonic() < deadline, worker.text()
            time.sleep(0.2)
        time.sleep(1)  # a second task, if there were one, would have run by now
        found = invalidations(cloudfront_client, distribution)
        assert [paths_of(invalidation) for invalidation in found] == [[f"/books/book-{n}/" for n in range(5)]]
        assert worker.count("cdn_flush_invalidations[") >= 1
