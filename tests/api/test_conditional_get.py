"""ETag / Last-Modified with conditional GET (304), and Cache-Control a CDN can honour."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.utils.http import http_date, parse_http_date

from catalog.models import Book
from cloudshelf.api.middleware import representation_last_modified
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    return BookFactory(price=Decimal("10.00"))


def test_a_matching_etag_gets_304_with_no_body(api, book):
    first = api.get(f"/api/v1/books/{book.pk}/")

    again = api.get(f"/api/v1/books/{book.pk}/", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["RateLimit-Limit"] == first["RateLimit-Limit"]


def test_an_unchanged_resource_since_last_modified_gets_304(api, book):
    first = api.get(f"/api/v1/books/{book.pk}/")

    again = api.get(f"/api/v1/books/{book.pk}/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert again.status_code == 304


def test_a_changed_resource_gets_200_with_a_new_etag_and_a_later_last_modified(api, book):
    first = api.get(f"/api/v1/books/{book.pk}/")
    # A bulk-style UPDATE that does not touch updated_at: validators must not rely on it.
    Book.objects.filter(pk=book.pk).update(price=Decimal("9.00"))

    by_etag = api.get(f"/api/v1/books/{book.pk}/", HTTP_IF_NONE_MATCH=first["ETag"])
    by_date = api.get(f"/api/v1/books/{book.pk}/", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert by_etag.status_code == 200
    assert by_etag.json()["price"] == "9.00"
    assert by_etag["ETag"] != first["ETag"]
    assert parse_http_date(by_etag["Last-Modified"]) > parse_http_date(first["Last-Modified"])
    assert by_date.status_code == 200


def test_last_modified_moves_on_even_when_content_returns_to_an_earlier_state():
    scope = f"/api/v1/books/1/?test={time.time_ns()}"
    first = representation_last_modified(scope, '"a"')
    second = representation_last_modified(scope, '"b"')
    back = representation_last_modified(scope, '"a"')

    assert first < second < back
    assert representation_last_modified(scope, '"a"') == back


def test_a_list_page_is_conditional_too(api, book):
    first = api.get("/api/v1/books/?page_size=5")

    assert api.get("/api/v1/books/?page_size=5", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_catalog_answers_are_public_and_vary_on_the_key(api, book):
    response = api.get(f"/api/v1/books/{book.pk}/")

    assert response["Cache-Control"] == "public, max-age=60, stale-while-revalidate=60"
    assert response["Vary"] == "Authorization, X-API-Key"
    assert parse_http_date(response["Last-Modified"]) <= parse_http_date(http_date())


def test_cart_answers_are_private(api):
    cart_id = api.post("/api/v1/carts/", {}, content_type="application/json").json()["id"]

    response = api.get(f"/api/v1/carts/{cart_id}/")

    assert response["Cache-Control"] == "private, no-cache"
    assert "ETag" in response


def test_errors_are_not_cacheable_and_carry_no_validators(api):
    response = api.get("/api/v1/books/?page_size=0")

    assert response["Cache-Control"] == "private, no-cache"
    assert "ETag" not in response
