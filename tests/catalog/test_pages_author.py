"""The author page (/authors/<slug>/): biography and books."""

import pytest

from tests.factories import AuthorFactory, BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def author():
    return AuthorFactory(name="Ursula K. Le Guin", slug="le-guin", bio="Wrote Earthsea.\n\nAnd much more.")


def test_author_page_shows_bio_and_their_books_only(client, author):
    BookFactory(title="A Wizard of Earthsea", authors=[author], popularity=2)
    BookFactory(title="Co-written", authors=[AuthorFactory(), author], popularity=1)
    BookFactory(title="Someone else's")

    response = client.get("/authors/le-guin/")
    html = response.content.decode()

    assert response.status_code == 200
    assert '<h1 class="page-head__title">Ursula K. Le Guin</h1>' in html
    assert "<p>And much more.</p>" in html
    assert [book.title for book in response.context["listing"].books] == ["A Wizard of Earthsea", "Co-written"]


def test_author_books_are_paginated_and_sortable(client, settings, author):
    settings.CATALOG_PAGE_SIZE = 2
    for title in ("C", "A", "B"):
        BookFactory(title=title, authors=[author])

    second = client.get("/authors/le-guin/", {"sort": "title", "page": 2})

    assert [book.title for book in second.context["listing"].books] == ["C"]
    assert client.get("/authors/le-guin/", {"page": 3}).status_code == 404


def test_author_page_seo_tags(client, settings, author):
    settings.SITE_URL = "https://shop.example"

    html = client.get("/authors/le-guin/").content.decode()

    assert "<title>Ursula K. Le Guin · CloudShelf</title>" in html
    assert '<link rel="canonical" href="https://shop.example/authors/le-guin/">' in html
    assert '<meta property="og:type" content="profile">' in html
    assert '<meta name="description" content="Wrote Earthsea.' in html


def test_unknown_author_is_404(client):
    assert client.get("/authors/nobody/").status_code == 404


@pytest.mark.parametrize("size", [2, 20])
def test_author_page_query_count_is_fixed(client, django_assert_num_queries, author, size):
    for _ in range(size):
        BookFactory(authors=[author, AuthorFactory()])

    # Nav, author, count, page ids, books, authors.
    with django_assert_num_queries(6):
        assert client.get("/authors/le-guin/").status_code == 200
