"""``POST /rum``: what a beacon may say, who may send it, how much, and what is kept."""

from __future__ import annotations

import io
import json

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, RequestFactory

from analytics import buffer
from analytics.events import EVENTS_STREAM
from analytics.models import BookDay, RumBeacon
from analytics.rum.beacons import MAX_BEACON_BYTES
from analytics.rum.services import RUM_STREAM
from analytics.rum.views import beacon
from tests.analytics.rum.conftest import HOME_BEACON, SHOPPER, pending, post

pytestmark = pytest.mark.django_db


def assert_nothing_kept():
    assert pending(RUM_STREAM) == []
    assert pending(EVENTS_STREAM) == []
    assert RumBeacon.objects.count() == 0


def test_a_sampled_beacon_is_buffered_and_answered_with_204(shopper, queued_flushes):
    answer = post(shopper, HOME_BEACON)

    assert answer.status_code == 204
    assert answer.content == b""
    assert "no-store" in answer["Cache-Control"]
    [kept] = pending(RUM_STREAM)
    received_at = kept.pop("received_at")
    assert received_at.endswith("+00:00")
    assert kept == {
        "route_name": "catalog:home",
        "route_class": "page",
        "ttfb_ms": 81.2,
        "dom_ready_ms": 420.5,
        "load_ms": 655.0,
        "lcp_ms": 702.3,
        "inp_ms": 48.0,
        "cls": 0.0123,
        "navigation_type": "navigate",
        "effective_connection_type": "4g",
        "sample_rate": 0.1,
    }
    assert pending(EVENTS_STREAM) == []
    assert RumBeacon.objects.count() == 0  # written by the flush, never on the request
    [flush] = queued_flushes
    assert (flush["args"][0], flush["countdown"]) == (RUM_STREAM, buffer.FLUSH_AFTER_SECONDS)


def test_the_flush_writes_the_beacon_as_a_row(shopper):
    post(shopper, HOME_BEACON | {"route": "search:results", "ect": ""})

    assert buffer.flush(stream=RUM_STREAM) == 1

    row = RumBeacon.objects.get()
    assert (row.route_name, row.route_class, row.sample_rate) == ("search:results", "search", 0.1)
    assert (row.ttfb_ms, row.dom_ready_ms, row.load_ms, row.lcp_ms, row.inp_ms, row.cls) == (
        81.2,
        420.5,
        655.0,
        702.3,
        48.0,
        0.0123,
    )
    assert (row.navigation_type, row.effective_connection_type) == ("navigate", "")


def test_the_route_class_is_the_servers_not_the_clients(shopper):
    post(shopper, {"route": "cart:detail", "load": 900, "rate": 1})

    buffer.flush(stream=RUM_STREAM)

    assert RumBeacon.objects.values_list("route_name", "route_class").get() == ("cart:detail", "cart")


def test_a_beacon_with_only_some_timings_keeps_the_rest_empty(shopper):
    post(shopper, {"route": "catalog:book-list", "ttfb": 12, "rate": 0.5})

    buffer.flush(stream=RUM_STREAM)

    row = RumBeacon.objects.get()
    assert (row.ttfb_ms, row.dom_ready_ms, row.load_ms, row.lcp_ms, row.inp_ms, row.cls) == (
        12.0,
        None,
        None,
        None,
        None,
        None,
    )
    assert (row.navigation_type, row.effective_connection_type) == ("", "")


def test_a_book_page_beacon_counts_a_product_view_and_keeps_its_timings(shopper):
    post(shopper, HOME_BEACON | {"route": "catalog:book", "book": 4242})

    buffer.flush(stream=EVENTS_STREAM)
    buffer.flush(stream=RUM_STREAM)

    assert BookDay.objects.values_list("book_id", "views").get() == (4242, 1)
    assert RumBeacon.objects.values_list("route_name").get() == ("catalog:book",)


def test_an_unsampled_book_page_beacon_counts_the_view_and_keeps_no_timings(shopper):
    answer = post(shopper, {"route": "catalog:book", "book": 7})

    assert answer.status_code == 204
    assert pending(RUM_STREAM) == []
    buffer.flush(stream=EVENTS_STREAM)
    assert BookDay.objects.values_list("book_id", "views").get() == (7, 1)


# Each bad beacon: (body, status, code). Every one keeps nothing.
REFUSED = [
    pytest.param(b"not json", "invalid_json", id="not-json"),
    pytest.param(b"\xff\xfe{}", "invalid_json", id="not-utf8"),
    pytest.param(b"  ", "invalid_json", id="blank-body"),
    pytest.param(b"[1, 2]", "invalid_json", id="not-an-object"),
    pytest.param(b'{"route": "catalog:home", "ttfb": NaN, "rate": 0.1}', "invalid_json", id="nan"),
    pytest.param(b'{"route": "catalog:home", "ttfb": Infinity, "rate": 0.1}', "invalid_json", id="infinity"),
    pytest.param(b'{"route": "catalog:home", "ttfb": 1e999, "rate": 0.1}', "invalid_field", id="overflow"),
    pytest.param(b"[" * 1000 + b"]" * 1000, "invalid_json", id="deeply-nested"),
    pytest.param({}, "unknown_route", id="no-route"),
    pytest.param(HOME_BEACON | {"route": "catalog:nowhere"}, "unknown_route", id="made-up-route"),
    pytest.param(HOME_BEACON | {"route": "/books/?q=secret"}, "unknown_route", id="a-path"),
    pytest.param(HOME_BEACON | {"route": "admin:index"}, "unknown_route", id="admin"),
    pytest.param(HOME_BEACON | {"route": "api:book-list"}, "unknown_route", id="api"),
    pytest.param(HOME_BEACON | {"route": "analytics:rum"}, "unknown_route", id="itself"),
    pytest.param(HOME_BEACON | {"route": ["catalog:home"]}, "unknown_route", id="route-not-a-string"),
    pytest.param(HOME_BEACON | {"url": "/books/?q=secret"}, "unknown_field", id="extra-field"),
    pytest.param(HOME_BEACON | {"email": "a@example.com"}, "unknown_field", id="personal-data"),
    pytest.param(HOME_BEACON | {"ttfb": "81"}, "invalid_field", id="timing-a-string"),
    pytest.param(HOME_BEACON | {"load": True}, "invalid_field", id="timing-a-boolean"),
    pytest.param(HOME_BEACON | {"dom_ready": -1}, "invalid_field", id="timing-negative"),
    pytest.param(HOME_BEACON | {"lcp": 600_001}, "invalid_field", id="timing-over-ten-minutes"),
    pytest.param(HOME_BEACON | {"inp": {"value": 3}}, "invalid_field", id="timing-an-object"),
    pytest.param(HOME_BEACON | {"cls": 101}, "invalid_field", id="cls-absurd"),
    pytest.param(HOME_BEACON | {"cls": -0.1}, "invalid_field", id="cls-negative"),
    pytest.param(HOME_BEACON | {"rate": 0}, "invalid_field", id="rate-zero"),
    pytest.param(HOME_BEACON | {"rate": 1.5}, "invalid_field", id="rate-over-one"),
    pytest.param(HOME_BEACON | {"rate": "0.1"}, "invalid_field", id="rate-a-string"),
    pytest.param({"route": "catalog:home", "ttfb": 80}, "invalid_field", id="timings-without-rate"),
    pytest.param({"route": "catalog:home", "rate": 0.1}, "empty_beacon", id="rate-without-timings"),
    pytest.param({"route": "catalog:home"}, "empty_beacon", id="nothing-to-say"),
    pytest.param(HOME_BEACON | {"nav": "teleport"}, "invalid_field", id="unknown-navigation-type"),
    pytest.param(HOME_BEACON | {"ect": "5g"}, "invalid_field", id="unknown-connection-type"),
    pytest.param(HOME_BEACON | {"book": 12}, "invalid_field", id="book-on-another-page"),
    pytest.param({"route": "catalog:book", "book": 0}, "invalid_field", id="book-zero"),
    pytest.param({"route": "catalog:book", "book": -3}, "invalid_field", id="book-negative"),
    pytest.param({"route": "catalog:book", "book": "12"}, "invalid_field", id="book-a-string"),
    pytest.param({"route": "catalog:book", "book": 1.5}, "invalid_field", id="book-a-fraction"),
    pytest.param({"route": "catalog:book", "book": 2**63}, "invalid_field", id="book-too-large"),
]


@pytest.mark.parametrize(("body", "code"), REFUSED)
def test_a_bad_beacon_is_refused_with_400_and_its_reason_and_nothing_is_kept(shopper, body, code):
    answer = post(shopper, body)

    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert answer.json()["message"]
    assert "no-store" in answer["Cache-Control"]
    assert_nothing_kept()


def test_the_refusal_names_what_is_wrong(shopper):
    assert post(shopper, HOME_BEACON | {"lcp": 700_000}).json() == {
        "code": "invalid_field",
        "message": "lcp must be between 0 and 600000.",
    }
    assert post(shopper, HOME_BEACON | {"url": "/x", "user": "me"}).json() == {
        "code": "unknown_field",
        "message": "Unknown fields: url, user.",
    }


def test_a_beacon_of_the_largest_size_is_accepted_and_one_byte_more_is_413(shopper):
    body = json.dumps(HOME_BEACON)
    largest = body + " " * (MAX_BEACON_BYTES - len(body))

    assert post(shopper, largest).status_code == 204
    too_large = post(shopper, largest + " ")
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "too_large"
    assert len(pending(RUM_STREAM)) == 1


def test_a_huge_body_is_refused_before_it_is_read():
    class CountingStream(io.BytesIO):
        read_bytes = 0

        def read(self, size=-1):
            data = super().read(size)
            CountingStream.read_bytes += len(data)
            return data

    body = b" " * 10_000_000
    environ = RequestFactory()._base_environ(
        REQUEST_METHOD="POST",
        PATH_INFO="/rum",
        CONTENT_TYPE="text/plain",
        CONTENT_LENGTH=str(len(body)),
        HTTP_SEC_FETCH_SITE="same-origin",
        REMOTE_ADDR=SHOPPER,
    )
    environ["wsgi.input"] = CountingStream(body)

    answer = beacon(WSGIRequest(environ))

    assert answer.status_code == 413
    assert CountingStream.read_bytes == 0
    assert_nothing_kept()


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"site": "cross-site"}, id="cross-site"),
        pytest.param({"site": "same-site"}, id="a-sibling-subdomain"),
        pytest.param({"site": "", "HTTP_ORIGIN": "https://evil.example"}, id="foreign-origin"),
        pytest.param({"site": "", "HTTP_ORIGIN": "null"}, id="opaque-origin"),
        pytest.param({"site": ""}, id="no-proof-at-all"),
    ],
)
def test_a_beacon_from_another_site_is_refused_with_403(shopper, headers):
    answer = post(shopper, HOME_BEACON, **headers)

    assert answer.status_code == 403
    assert answer.json()["code"] == "cross_site"
    assert_nothing_kept()


def test_a_browser_without_sec_fetch_site_proves_its_origin_with_origin(shopper):
    answer = post(shopper, HOME_BEACON, site="", HTTP_ORIGIN="http://testserver")

    assert answer.status_code == 204


def test_json_is_accepted_as_application_json_too_and_other_types_are_415(shopper):
    assert post(shopper, HOME_BEACON, content_type="application/json").status_code == 204
    form = post(shopper, "route=catalog:home", content_type="application/x-www-form-urlencoded")
    assert form.status_code == 415
    assert form.json()["code"] == "unsupported_media_type"
    assert len(pending(RUM_STREAM)) == 1


def test_beacons_per_client_address_are_limited(settings):
    settings.RUM_BEACONS_PER_ADDRESS_MINUTE = 2
    shopper = Client(REMOTE_ADDR=SHOPPER)

    answers = [post(shopper, HOME_BEACON) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [204, 204, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert 29 < int(answers[2]["Retry-After"]) <= 30
    assert "no-store" in answers[2]["Cache-Control"]
    assert len(pending(RUM_STREAM)) == 2
    assert post(Client(REMOTE_ADDR="198.51.100.24"), HOME_BEACON).status_code == 204


def test_anyone_may_send_a_beacon_but_the_endpoint_shows_nothing(shopper, customer_client):
    assert shopper.get("/rum").status_code == 405
    assert customer_client.get("/rum").status_code == 405
    assert shopper.head("/rum").status_code == 405
    signed_in = post(customer_client, HOME_BEACON)
    assert (signed_in.status_code, signed_in.content) == (204, b"")
    # Nothing of who sent it is kept: no address, no user, no session.
    [kept] = pending(RUM_STREAM)
    assert set(kept) == {
        "received_at",
        "route_name",
        "route_class",
        "ttfb_ms",
        "dom_ready_ms",
        "load_ms",
        "lcp_ms",
        "inp_ms",
        "cls",
        "navigation_type",
        "effective_connection_type",
        "sample_rate",
    }


def test_a_beacon_costs_no_query(shopper, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert post(shopper, HOME_BEACON | {"route": "catalog:book", "book": 3}).status_code == 204


def test_a_beacon_does_not_pin_its_visitor_to_the_primary(shopper, queued_flushes, settings):
    """The beacon a book page sends as it is left must not send the shopper's next page to the primary."""
    assert "cloudshelf.db_router.ReplicaRoutingMiddleware" in settings.MIDDLEWARE  # make test sets the replica
    answer = post(shopper, HOME_BEACON)

    assert answer.status_code == 204
    assert "read_primary" not in answer.cookies
