"""Over-long URLs and other refused requests get the site's own pages, through gunicorn and nginx.

A search box has a ``maxlength``, but a pasted link, a bookmark or a script does not: a
search of 20,000 characters must still get a CloudShelf page (the results for its first
``SEARCH_MAX_QUERY_LENGTH`` characters, or a styled "link too long" page), never the bare
page of gunicorn or nginx. Cyrillic weighs six bytes per character once percent-encoded.
"""

from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from tests.edge.conftest import fetch, free_port, running_http_cache

pytestmark = pytest.mark.slow

SEARCHES = {
    "ascii-5000": ("tolkien " * 625)[:5000],
    "ascii-20000": ("tolkien " * 2500)[:20000],
    "cyrillic-5000": ("книга " * 834)[:5000],
    "cyrillic-20000": ("книга " * 3334)[:20000],
}
# Bare pages of the servers themselves: never what a visitor should see.
BARE_PAGES = (b"<h1><p>", b"Request Line is too large", b"<center>nginx</center>", b"<center><h1>")


def search_path(query: str) -> str:
    return "/search/?q=" + quote_plus(query)


def assert_is_a_site_page(body: bytes) -> None:
    """The site's header and a way back home, and nothing of a server's bare error page."""
    assert b'class="site-header' in body
    assert b'href="/"' in body
    for bare in BARE_PAGES:
        assert bare not in body


def test_gunicorn_answers_huge_searches_with_the_results_of_their_cut_query(gunicorn_server):
    for name, query in SEARCHES.items():
        response = fetch(gunicorn_server.url + search_path(query), timeout=30)

        assert response.status == 200, name
        assert b"That was a long search, so we looked for its first 200 characters." in response.body
        assert_is_a_site_page(response.body)


def test_gunicorn_answers_huge_autocomplete_calls(gunicorn_server):
    for name, query in SEARCHES.items():
        response = fetch(f"{gunicorn_server.url}/search/autocomplete?q={quote_plus(query)}", timeout=30)

        assert response.status == 200, name
        assert response.header("Content-Type") == "application/json"


def test_nginx_answers_huge_searches_with_a_site_page(gunicorn_server):
    with running_http_cache(gunicorn_server.bind) as nginx:
        answers = {name: nginx.get(search_path(query), timeout=30) for name, query in SEARCHES.items()}
        stylesheet = nginx.get("/static/css/site.css")  # what the "too long" page links to

    # Up to nginx's request-line buffer (32 KB) the search reaches Django, which cuts it...
    for name in ("ascii-5000", "ascii-20000", "cyrillic-5000"):
        assert answers[name].status == 200, name
        assert b"That was a long search" in answers[name].body
        assert_is_a_site_page(answers[name].body)
    # ... beyond it (120 KB of escaped Cyrillic) nginx answers with the site's "too long" page.
    too_long = answers["cyrillic-20000"]
    assert too_long.status == 414
    assert too_long.header("Content-Type") == "text/html"
    assert b"That link is too long" in too_long.body
    assert b'href="/search/"' in too_long.body
    assert_is_a_site_page(too_long.body)
    assert stylesheet.status == 200


def test_nginx_answers_an_oversized_header_with_a_site_page(gunicorn_server):
    with running_http_cache(gunicorn_server.bind) as nginx:
        response = nginx.get("/", headers={"Cookie": "crumbs=" + "x" * 40_000})

    assert response.status == 400
    assert b"We could not read that request" in response.body
    assert_is_a_site_page(response.body)


def test_nginx_answers_with_a_site_page_while_gunicorn_is_down():
    with running_http_cache(f"127.0.0.1:{free_port()}") as nginx:
        response = nginx.get("/books/")

    assert response.status == 502
    assert b"CloudShelf is taking a short break" in response.body
    assert_is_a_site_page(response.body)
