"""Category browse (/categories/<path>/) and the all-books browse (/books/)."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Book
from tests.factories import AuthorFactory, BookFactory, CategoryFactory

pytestmark = pytest.mark.django_db


def listed_titles(response) -> list[str]:
    return [book.title for book in response.context["listing"].books]


@pytest.fixture
def fiction():
    return CategoryFactory(name="Fiction", slug="fiction")


@pytest.fixture
def fantasy(fiction):
    return CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)


@pytest.fixture
def five_books(fiction):
    """Five books whose sort keys disagree, so every sort gives a different order."""
    rows = [
        # title, price, popularity, average rating, ratings count, publication date
        ("Delta", "12.00", 95, "4.50", 10, date(2020, 1, 1)),
        ("Alpha", "8.00", 90, "3.00", 500, date(2023, 5, 1)),
        ("Charlie", "30.00", 10, "4.50", 900, None),
        ("Bravo", "8.00", 70, "5.00", 3, date(2024, 2, 1)),
        ("Echo", "19.99", 30, "2.00", 40, date(2010, 7, 7)),
    ]
    return [
        BookFactory(
            title=title,
            price=Decimal(price),
            popularity=popularity,
            average_rating=Decimal(rating),
            ratings_count=count,
            publication_date=published,
            category=fiction,
        )
        for title, price, popularity, rating, count, published in rows
    ]


def test_category_page_lists_books_of_descendant_categories(client, fiction, fantasy):
    epic = CategoryFactory(name="Epic", slug="epic", parent=fantasy)
    lookalike = CategoryFactory(name="Fiction Classics", slug="fiction-classics")  # path starts with "fiction"
    BookFactory(title="In the root", category=fiction, popularity=3)
    BookFactory(title="In the child", category=fantasy, popularity=2)
    BookFactory(title="In the grandchild", category=epic, popularity=1)
    BookFactory(title="In another root", category=lookalike)

    response = client.get("/categories/fiction/")

    assert response.status_code == 200
    assert listed_titles(response) == ["In the root", "In the child", "In the grandchild"]


def test_subcategory_page_lists_only_its_own_subtree(client, fiction, fantasy):
    BookFactory(title="In the root", category=fiction)
    BookFactory(title="In the child", category=fantasy)

    response = client.get("/categories/fiction/fantasy/")

    assert listed_titles(response) == ["In the child"]


def test_category_page_shows_breadcrumbs_and_subcategory_links(client, fiction, fantasy):
    CategoryFactory(name="Epic", slug="epic", parent=fantasy)

    html = client.get("/categories/fiction/fantasy/").content.decode()

    assert '<nav class="breadcrumbs" aria-label="Breadcrumb">' in html
    assert '<a href="/categories/fiction/">Fiction</a>' in html
    assert '<a href="/categories/fiction/fantasy/" aria-current="page">Fantasy</a>' in html
    assert '<a class="chip" href="/categories/fiction/fantasy/epic/">Epic</a>' in html


def test_unknown_category_is_404(client, fiction):
    assert client.get("/categories/fiction/no-such-thing/").status_code == 404


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("bestselling", ["Delta", "Alpha", "Bravo", "Echo", "Charlie"]),
        ("price", ["Alpha", "Bravo", "Delta", "Echo", "Charlie"]),
        ("price-desc", ["Charlie", "Echo", "Delta", "Bravo", "Alpha"]),
        ("rating", ["Bravo", "Charlie", "Delta", "Alpha", "Echo"]),
        ("newest", ["Bravo", "Alpha", "Delta", "Echo", "Charlie"]),
        ("title", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
    ],
)
def test_category_sorts_order_books_exactly(client, five_books, sort, expected):
    response = client.get("/categories/fiction/", {"sort": sort})

    assert listed_titles(response) == expected


def test_equal_sort_keys_fall_back_to_id_order(client, five_books):
    # Alpha and Bravo cost the same: the older book (lower id) comes first going up, last going down.
    ascending = listed_titles(client.get("/categories/fiction/", {"sort": "price"}))
    descending = listed_titles(client.get("/categories/fiction/", {"sort": "price-desc"}))

    assert ascending[:2] == ["Alpha", "Bravo"]
    assert descending[-2:] == ["Bravo", "Alpha"]


def test_books_without_a_publication_date_sort_last_by_newest(client, five_books):
    assert listed_titles(client.get("/books/", {"sort": "newest"}))[-1] == "Charlie"


@pytest.mark.parametrize("sort", ["<script>alert(1)</script>", "PRICE", "", "price;drop table"])
def test_unknown_sort_falls_back_to_bestselling(client, five_books, sort):
    response = client.get("/categories/fiction/", {"sort": sort})

    assert response.status_code == 200
    assert listed_titles(response) == ["Delta", "Alpha", "Bravo", "Echo", "Charlie"]
    assert "<script>alert(1)" not in response.content.decode()


@pytest.fixture
def thirty_books(settings, fiction):
    """30 books, two per page, bestselling order = creation order (Book 00 … Book 29)."""
    settings.CATALOG_PAGE_SIZE = 2
    return [BookFactory(title=f"Book {index:02d}", popularity=100 - index, category=fiction) for index in range(30)]


def test_deep_page_shows_the_right_books(client, thirty_books):
    response = client.get("/categories/fiction/", {"page": 14})

    assert listed_titles(response) == ["Book 26", "Book 27"]
    assert response.context["listing"].page.num_pages == 15


def test_last_page_and_page_past_the_end(client, thirty_books):
    assert listed_titles(client.get("/categories/fiction/", {"page": 15})) == ["Book 28", "Book 29"]
    assert client.get("/categories/fiction/", {"page": 16}).status_code == 404


def test_pages_past_catalog_max_page_are_404(client, settings, thirty_books):
    settings.CATALOG_MAX_PAGE = 3

    assert client.get("/books/", {"page": 3}).status_code == 200
    assert client.get("/books/", {"page": 4}).status_code == 404
    assert client.get("/books/").context["listing"].page.num_pages == 3


@pytest.mark.parametrize("page", ["abc", "-1", "0", "1.5", "99999999999999999999", "½", "1e3"])
def test_malformed_page_numbers_are_404_not_errors(client, thirty_books, page):
    assert client.get("/categories/fiction/", {"page": page}).status_code == 404
    assert client.get("/books/", {"page": page}).status_code == 404


def test_empty_page_parameter_means_page_one(client, thirty_books):
    assert listed_titles(client.get("/books/", {"page": ""})) == ["Book 00", "Book 01"]


def test_pagination_marks_the_current_page_and_keeps_the_sort(client, thirty_books):
    html = client.get("/categories/fiction/", {"page": 7, "sort": "title"}).content.decode()

    assert '<nav class="pagination" aria-label="Pages">' in html
    assert '<a href="/categories/fiction/?sort=title&amp;page=7" aria-current="page">' in html
    assert '<a href="/categories/fiction/?sort=title&amp;page=8" rel="next">' in html
    assert '<a href="/categories/fiction/?sort=title&amp;page=6" rel="prev">' in html
    assert 'href="/categories/fiction/?sort=title">' in html  # page 1 has no page parameter


def test_deep_pages_reuse_the_cached_book_count(client, thirty_books):
    client.get("/categories/fiction/", {"page": 2})
    BookFactory(title="Added later", category=thirty_books[0].category, popularity=0)

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/categories/fiction/", {"page": 14})

    assert not [query for query in queries.captured_queries if "COUNT(" in query["sql"]]
    assert response.context["listing"].page.total == 30


def test_listing_has_canonical_og_and_meta_tags(client, settings, thirty_books):
    settings.SITE_URL = "https://shop.example"

    html = client.get("/categories/fiction/", {"page": 3}).content.decode()

    assert "<title>Fiction books (page 3) · CloudShelf</title>" in html
    assert '<link rel="canonical" href="https://shop.example/categories/fiction/?page=3">' in html
    assert '<meta property="og:url" content="https://shop.example/categories/fiction/?page=3">' in html
    assert '<meta property="og:title" content="Fiction books (page 3)">' in html
    assert '<meta property="og:type" content="website">' in html
    assert '<meta name="description" content="Shop 30 Fiction books at CloudShelf.">' in html
    assert 'name="robots"' not in html


def test_other_sorts_are_canonical_to_themselves_but_not_indexed(client, settings, thirty_books):
    settings.SITE_URL = "https://shop.example"

    html = client.get("/books/", {"sort": "price", "page": 2}).content.decode()

    assert '<link rel="canonical" href="https://shop.example/books/?sort=price&amp;page=2">' in html
    assert '<meta name="robots" content="noindex, follow">' in html


def test_all_books_page_lists_every_category(client, fiction, fantasy):
    BookFactory(title="Root book", category=fiction, popularity=2)
    BookFactory(title="Child book", category=fantasy, popularity=1)
    BookFactory(title="Uncategorised", category=None, popularity=0)

    response = client.get("/books/")

    assert response.status_code == 200
    assert listed_titles(response) == ["Root book", "Child book", "Uncategorised"]
    assert "1\N{EN DASH}3 of 3 books" in response.content.decode()


def test_book_cards_show_cover_price_rating_and_stock(client, fiction):
    BookFactory(
        title="Cards & <Covers>",
        price=Decimal("1234.5"),
        average_rating=Decimal("4.25"),
        ratings_count=1204,
        category=fiction,
        stock=2,
        authors=[AuthorFactory(name="Ann Author")],
    )

    html = client.get("/categories/fiction/").content.decode()

    assert 'role="img" aria-label="Cover of Cards &amp; &lt;Covers&gt; by Ann Author"' in html
    assert "$1,234.50" in html
    assert 'aria-label="Rated 4.2 out of 5 from 1,204 ratings"' in html
    assert '<span class="badge badge--low">Only 2 left</span>' in html
    assert "<Covers>" not in html


def test_empty_category_says_so(client, fiction):
    response = client.get("/categories/fiction/")

    assert response.status_code == 200
    assert "No books in this category yet." in response.content.decode()


def _catalog_of(size: int, fiction, fantasy) -> None:
    authors = AuthorFactory.create_batch(size)
    for index in range(size):
        BookFactory(
            category=fantasy if index % 2 else fiction,
            popularity=index,
            authors=[authors[index], authors[(index + 1) % size]],
        )


@pytest.mark.parametrize("size", [3, 30])
def test_category_page_query_count_is_fixed(client, settings, django_assert_num_queries, fiction, fantasy, size):
    settings.CATALOG_PAGE_SIZE = 2
    _catalog_of(size, fiction, fantasy)

    # Cold cache: nav, category trail, descendants, count, page ids, books, authors.
    with django_assert_num_queries(7):
        assert client.get("/categories/fiction/").status_code == 200
    # Warm cache: page ids, books, authors.
    with django_assert_num_queries(3):
        assert client.get("/categories/fiction/", {"page": 2}).status_code == 200


@pytest.mark.parametrize("size", [4, 30])
def test_deep_category_page_query_count_is_fixed(client, settings, django_assert_num_queries, fiction, fantasy, size):
    settings.CATALOG_PAGE_SIZE = 1
    _catalog_of(size, fiction, fantasy)

    # Cold cache: nav, category trail, descendants, count, the page boundaries (deep pages
    # seek by key, see test_deep_pages.py), page ids, books, authors.
    with django_assert_num_queries(8):
        assert client.get("/categories/fiction/", {"page": size, "sort": "price"}).status_code == 200
    # Warm cache: page ids, books, authors.
    with django_assert_num_queries(3):
        assert client.get("/categories/fiction/", {"page": size - 1, "sort": "price"}).status_code == 200


@pytest.mark.parametrize("size", [3, 30])
def test_all_books_query_count_is_fixed(client, settings, django_assert_num_queries, fiction, fantasy, size):
    settings.CATALOG_PAGE_SIZE = 2
    _catalog_of(size, fiction, fantasy)

    # Nav, count, page ids, books, authors.
    with django_assert_num_queries(5):
        assert client.get("/books/", {"sort": "rating"}).status_code == 200
    assert Book.objects.count() == size
