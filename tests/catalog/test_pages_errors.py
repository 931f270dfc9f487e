"""The 404 and 500 pages."""

import pytest
from django.test import RequestFactory

from cloudshelf.errors import server_error


@pytest.mark.django_db
def test_404_page_uses_the_site_template(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()

    assert response.status_code == 404
    assert "We can\N{RIGHT SINGLE QUOTATION MARK}t find that page" in html
    assert '<nav class="category-nav" aria-label="Categories">' in html
    assert '<meta name="robots" content="noindex">' in html


def test_500_handler_renders_without_database_or_request_context():
    # No ``db`` fixture: any database query here would fail the test.
    response = server_error(RequestFactory().get("/"))
    html = response.content.decode()

    assert response.status_code == 500
    assert "<title>Something went wrong · CloudShelf</title>" in html
    assert '<a class="button" href="/">Back to the bookshop</a>' in html
    assert "{%" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/books/?sort=<script>alert(1)</script>",
        "/books/?page=-1",
        "/books/?page=99999999999999999999",
        "/books/?page=%00",
        "/categories/%3Cscript%3E/",
        "/categories/" + "a/" * 200,
        "/authors/%E2%98%83/",
        "/books/9780000000002/%3Cscript%3E/",
        "/?sort=x&page=y",
    ],
)
def test_hostile_urls_never_500(client, url):
    response = client.get(url)

    assert response.status_code in (200, 301, 404)
    assert "<script>alert(1)" not in response.content.decode()
