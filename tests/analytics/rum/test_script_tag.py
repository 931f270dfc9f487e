"""The RUM script is on every customer page (never the admin), with nothing personal on it."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

TAG = re.compile(r'<script src="/static/js/rum\.js"[^>]*></script>')


def rum_tag(page) -> str:
    [tag] = TAG.findall(page.content.decode())
    return tag


def test_the_home_page_names_its_route_and_the_sampling_rate(client, settings):
    settings.RUM_SAMPLE_RATE = 0.25

    assert rum_tag(client.get("/")) == (
        '<script src="/static/js/rum.js" defer data-endpoint="/rum" data-route="catalog:home" data-sample-rate="0.25">'
        "</script>"
    )


def test_a_book_page_also_names_its_book(client):
    book = BookFactory()

    tag = rum_tag(client.get(book.get_absolute_url()))

    assert 'data-route="catalog:book"' in tag
    assert tag.endswith(f' data-book-id="{book.pk}"></script>')


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/books/", "catalog:book-list"),
        ("/search/?q=dune", "search:results"),
        ("/cart/", "cart:detail"),
        ("/accounts/login/", "login"),
    ],
)
def test_every_kind_of_customer_page_has_the_tag(client, settings, path, route):
    settings.SEARCH_FORCE_FALLBACK = True

    tag = rum_tag(client.get(path))

    assert f'data-route="{route}"' in tag
    assert "data-book-id" not in tag


def test_a_page_no_route_matched_has_the_tag_with_no_route_so_it_sends_nothing(client):
    page = client.get("/no/such/page/")

    assert page.status_code == 404
    assert 'data-route=""' in rum_tag(page)


def test_with_sampling_off_the_tag_stays_with_rate_0(client, settings):
    settings.RUM_SAMPLE_RATE = 0

    assert 'data-sample-rate="0"' in rum_tag(client.get("/"))


def test_the_admin_has_no_rum_script(admin_client):
    for path in ("/admin/", "/admin/analytics/rumbeacon/"):
        page = admin_client.get(path)
        assert page.status_code == 200
        assert "rum.js" not in page.content.decode()


def test_a_kept_book_page_is_the_same_for_every_visitor(customer_client):
    book = BookFactory()
    first, second = Client(), Client()

    pages = [visitor.get(book.get_absolute_url()) for visitor in (first, second)]

    assert pages[0].content == pages[1].content
    assert pages[1]["X-Page-Cache"] == "hit"
    # A signed-in customer's copy is filled with their slots, but the RUM tag is the same.
    assert rum_tag(customer_client.get(book.get_absolute_url())) == rum_tag(pages[0])


def test_the_script_is_served_and_the_policy_lets_it_send_to_our_origin(client):
    script = client.get("/static/js/rum.js")
    page = client.get("/")

    assert script.status_code == 200
    assert b"navigator.sendBeacon" in b"".join(script.streaming_content)
    assert "connect-src 'self'" in page["Content-Security-Policy"]
    assert "script-src 'self'" in page["Content-Security-Policy"]


def test_the_script_stays_small_and_has_no_dependencies():
    source = (Path(__file__).resolve().parents[3] / "static" / "js" / "rum.js").read_bytes()

    # Every page loads it: under 2 KB as sent (gzip), with nothing it imports.
    assert len(gzip.compress(source, compresslevel=9)) < 2048
    assert b"import " not in source
    assert b"require(" not in source
