"""CDN-ready HTTP on every page (cloudshelf.edge.http and the page cache's answers)."""

from __future__ import annotations

import gzip
from decimal import Decimal

import pytest
from django.test import Client

from tests.factories import BookFactory, CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    return BookFactory(title="Headers and Bodies", price=Decimal("10.00"), category=CategoryFactory(name="Web"))


def test_a_shared_page_says_who_may_keep_it_and_for_how_long(book, settings):
    settings.PAGE_CACHE_BROWSER_MAX_AGE = 0
    settings.PAGE_CACHE_SHARED_MAX_AGE = 300
    settings.PAGE_CACHE_STALE_WHILE_REVALIDATE = 60
    settings.PAGE_CACHE_STALE_IF_ERROR = 86400

    for response in (Client().get(book.get_absolute_url()), Client().get(book.get_absolute_url())):
        assert response["Cache-Control"] == (
            "public, max-age=0, s-maxage=300, stale-while-revalidate=60, stale-if-error=86400"
        )
        assert response["Vary"] == "Accept-Encoding"
        assert response["ETag"].startswith('"')
        assert response["Last-Modified"].endswith(" GMT")
        assert not response.cookies


def test_a_matching_etag_gets_304_with_no_body(book):
    first = Client().get(book.get_absolute_url())

    again = Client().get(book.get_absolute_url(), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == first["Cache-Control"]


def test_a_matching_if_modified_since_gets_304(book):
    first = Client().get(book.get_absolute_url())

    again = Client().get(book.get_absolute_url(), HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert again.status_code == 304


def test_a_stale_etag_gets_the_new_page(book, django_capture_on_commit_callbacks):
    from catalog import services

    first = Client().get(book.get_absolute_url())
    with django_capture_on_commit_callbacks(execute=True):
        services.books_adjust_price(book_ids=[book.pk], percent=Decimal("10"))

    again = Client().get(book.get_absolute_url(), HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again["ETag"] != first["ETag"]
    assert "$11.00" in again.content.decode()


@pytest.mark.parametrize("etag", ['"nonsense"', "*garbage*", "W/" + "x" * 5000, ""])
def test_a_bogus_if_none_match_gets_the_full_page(book, etag):
    Client().get(book.get_absolute_url())

    response = Client().get(book.get_absolute_url(), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert b"Headers and Bodies" in response.content


def test_gzip_is_served_to_clients_that_ask_and_identity_to_the_rest(book):
    Client().get(book.get_absolute_url())

    zipped = Client().get(book.get_absolute_url(), HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    plain = Client().get(book.get_absolute_url())
    refused = Client().get(book.get_absolute_url(), HTTP_ACCEPT_ENCODING="gzip;q=0, identity")

    assert zipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    assert zipped["ETag"] != plain["ETag"]  # another representation, another strong validator
    assert "Content-Encoding" not in plain
    assert "Content-Encoding" not in refused
    assert len(zipped.content) < len(plain.content) / 3


def test_a_gzip_client_revalidating_with_its_etag_gets_304(book):
    zipped = Client().get(book.get_absolute_url(), HTTP_ACCEPT_ENCODING="gzip")

    again = Client().get(book.get_absolute_url(), HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=zipped["ETag"])

    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/", "/books/", "/search/?q=headers", "/cart/", "/health", "/accounts/login/"])
def test_head_answers_wherever_get_does(book, path):
    get = Client().get(path)
    head = Client().head(path)

    assert head.status_code == get.status_code == 200
    assert head.content == b""


def test_head_of_a_book_page_answers_with_the_pages_headers(book):
    head = Client().head(book.get_absolute_url())

    assert head.status_code == 200
    assert head["Cache-Control"].startswith("public, ")
    assert head["Content-Type"] == "text/html; charset=utf-8"


def test_a_personal_page_is_private_and_has_no_validators(book, customer_client):
    response = customer_client.get(book.get_absolute_url())

    assert response["Cache-Control"] == "private, no-store"
    assert "ETag" not in response


@pytest.mark.parametrize("path", ["/cart/", "/orders/", "/checkout/", "/accounts/login/", "/accounts/signup/"])
def test_personal_and_form_pages_are_never_shared(customer_client, path):
    response = customer_client.get(path, follow=False)

    assert "public" not in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"] or "private" in response["Cache-Control"]


def test_every_post_answer_is_private(book, client):
    added = client.post("/cart/add/", {"book_id": book.pk})
    refused = client.post("/cart/add/", {"book_id": "not a number"})
    searched = client.post("/search/", {"q": "x"})

    for response in (added, refused, searched):
        assert response["Cache-Control"] == "private, no-store"
    assert searched.status_code == 405


def test_a_public_answer_that_sets_a_cookie_is_made_private(rf):
    from django.http import HttpResponse

    from cloudshelf.edge.http import DefaultPrivateMiddleware

    def view(request):
        response = HttpResponse("hello")
        response["Cache-Control"] = "public, max-age=60"
        response.set_cookie("tracking", "1")
        return response

    response = DefaultPrivateMiddleware(view)(rf.get("/"))

    assert response["Cache-Control"] == "private, no-store"


def test_the_autocomplete_stays_shareable(db):
    response = Client().get("/search/autocomplete", {"q": "he"})

    assert response["Cache-Control"] == "public, max-age=60"


def test_a_visitor_without_a_session_posting_from_another_site_is_refused(book):
    forger = Client(enforce_csrf_checks=True)

    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {}):
        response = forger.post("/cart/add/", {"book_id": book.pk}, headers=headers)
        assert response.status_code == 403
        assert "sessionid" not in response.cookies


def test_a_visitor_with_a_session_must_send_their_token_even_from_our_pages(book):
    shopper = Client(enforce_csrf_checks=True)
    shopper.post("/cart/add/", {"book_id": book.pk}, headers={"Sec-Fetch-Site": "same-origin"})

    response = shopper.post("/cart/add/", {"book_id": book.pk}, headers={"Sec-Fetch-Site": "same-origin"})

    assert response.status_code == 403


def test_an_origin_header_naming_this_site_is_enough_without_fetch_metadata(book):
    shopper = Client(enforce_csrf_checks=True)

    response = shopper.post("/cart/add/", {"book_id": book.pk}, headers={"Origin": "http://testserver"})

    assert response.status_code == 302
