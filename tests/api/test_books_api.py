"""GET /api/v1/books/ (filters, sorts, cursor pages), /books/<id>/, /books/isbn/<isbn>/."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from catalog.models import Book
from catalog.selectors.pages import SORT_OPTIONS
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, TagFactory

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    return [book["id"] for book in response.json()["results"]]


def walk(api, url: str) -> list[int]:
    """Every id of a listing, following ``next`` links to the end."""
    seen: list[int] = []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        seen += ids(response)
        url = response.json()["next"]
    return seen


@pytest.fixture
def fiction():
    return CategoryFactory(name="Fiction", slug="fiction")


@pytest.fixture
def fantasy(fiction):
    return CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)


@pytest.fixture
def five_books(fiction):
    """Five books whose sort keys disagree (and tie), so every sort gives a different order."""
    rows = [
        # title, price, popularity, average rating, ratings count, publication date
        ("Delta", "12.00", 90, "4.50", 10, date(2020, 1, 1)),
        ("Alpha", "8.00", 90, "3.00", 500, date(2023, 5, 1)),
        ("Charlie", "30.00", 10, "4.50", 900, None),
        ("Bravo", "8.00", 70, "5.00", 3, date(2024, 2, 1)),
        ("Echo", "19.99", 30, "2.00", 40, date(2010, 7, 7)),
    ]
    return {
        title: BookFactory(
            title=title,
            price=Decimal(price),
            popularity=popularity,
            average_rating=Decimal(rating),
            ratings_count=count,
            publication_date=published,
            category=fiction,
        )
        for title, price, popularity, rating, count, published in rows
    }


def test_a_book_in_the_list_has_every_documented_field(api, fantasy):
    """(Lists in these tests are filtered to a category of their own: other test runs may share the database.)"""
    author = AuthorFactory(name="Mara Quill")
    book = BookFactory(
        title="The Glass Orchard",
        subtitle="A Novel",
        price=Decimal("14.99"),
        average_rating=Decimal("4.31"),
        ratings_count=1288,
        publication_date=date(2024, 3, 5),
        category=fantasy,
        authors=[author],
        stock=42,
    )

    response = api.get(f"/api/v1/books/?category={fantasy.pk}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "results": [
            {
                "id": book.pk,
                "isbn13": book.isbn13,
                "title": "The Glass Orchard",
                "subtitle": "A Novel",
                "authors": [{"id": author.pk, "name": "Mara Quill"}],
                "category": {"id": fantasy.pk, "name": "Fantasy", "path": "fiction/fantasy"},
                "price": "14.99",
                "currency": "USD",
                "language": "en",
                "publication_date": "2024-03-05",
                "average_rating": 4.31,
                "ratings_count": 1288,
                "review_count": 0,
                "stock_on_hand": 42,
                "is_in_stock": True,
                "cover_url": None,
                "url": f"http://127.0.0.1:8000/books/{book.isbn13}/the-glass-orchard/",
            }
        ],
        "next_cursor": None,
        "next": None,
    }


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("bestselling", ["Delta", "Alpha", "Bravo", "Echo", "Charlie"]),  # popularity ties by id
        ("price", ["Alpha", "Bravo", "Delta", "Echo", "Charlie"]),
        ("price-desc", ["Charlie", "Echo", "Delta", "Bravo", "Alpha"]),
        ("rating", ["Bravo", "Charlie", "Delta", "Alpha", "Echo"]),
        ("newest", ["Bravo", "Alpha", "Delta", "Echo", "Charlie"]),
        ("title", ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]),
    ],
)
def test_every_sort_pages_through_all_books_once_in_order(api, five_books, fiction, sort, expected):
    """Two books per page, so every page boundary falls on a different tie."""
    walked = walk(api, f"/api/v1/books/?category={fiction.pk}&sort={sort}&page_size=2")

    assert walked == [five_books[title].pk for title in expected]


@pytest.mark.parametrize("sort", list(SORT_OPTIONS))
def test_a_category_with_sub_categories_pages_in_the_same_order_as_one_query(api, fiction, fantasy, sort):
    """Books of a subtree are read per category and merged; the order must be exactly the plain query's."""
    epic = CategoryFactory(name="Epic", slug="epic", parent=fantasy)
    categories = [fiction, fantasy, epic]
    for index in range(14):
        BookFactory(
            category=categories[index % 3],
            title=f"Title {index % 4}",  # ties on every sort column, broken by id
            price=Decimal(5 + index % 3),
            popularity=index % 2,
            average_rating=Decimal("4.00") if index % 2 else Decimal("3.50"),
            ratings_count=index % 3,
            publication_date=date(2020, 1, 1 + index % 2) if index % 5 else None,
        )
    expected = list(
        Book.objects.filter(category__in=categories).order_by(*SORT_OPTIONS[sort].order_by).values_list("id", flat=True)
    )

    walked = walk(api, f"/api/v1/books/?category={fiction.pk}&sort={sort}&page_size=3")

    assert walked == expected


def test_a_category_with_sub_categories_pages_in_three_queries(api, fiction, fantasy, django_assert_num_queries):
    """The merged ids, their card rows, their authors."""
    for index in range(6):
        BookFactory(category=fantasy if index % 2 else fiction)
    api.get(f"/api/v1/books/?category={fiction.pk}")

    with django_assert_num_queries(3):
        first = api.get(f"/api/v1/books/?category={fiction.pk}&page_size=4").json()
    with django_assert_num_queries(3):
        assert len(api.get(first["next"]).json()["results"]) == 2


def test_sorts_offered_are_the_indexed_browse_orders():
    assert set(SORT_OPTIONS) == {"bestselling", "price", "price-desc", "rating", "newest", "title"}


def test_a_cursor_from_another_sort_is_refused(api, five_books):
    cursor = api.get("/api/v1/books/?sort=price&page_size=2").json()["next_cursor"]

    response = api.get(f"/api/v1/books/?sort=title&cursor={cursor}")

    assert response.status_code == 400
    assert response.json()["fields"] == {"cursor": ["This cursor belongs to another sort order."]}


def test_the_next_link_keeps_the_filters(api, five_books, fiction):
    response = api.get(f"/api/v1/books/?category={fiction.pk}&sort=price&page_size=2")

    assert response.json()["next"].startswith(
        f"http://testserver/api/v1/books/?category={fiction.pk}&sort=price&page_size=2&cursor="
    )


def test_category_filter_includes_sub_categories_and_nothing_else(api, fiction, fantasy):
    in_root = BookFactory(category=fiction)
    in_child = BookFactory(category=fantasy)
    BookFactory(category=CategoryFactory(name="Fiction Classics", slug="fiction-classics"))

    response = api.get(f"/api/v1/books/?category={fiction.pk}&sort=title")

    assert sorted(ids(response)) == sorted([in_root.pk, in_child.pk])


def test_an_unknown_category_is_a_field_error(api, fiction):
    response = api.get("/api/v1/books/?category=999999")

    assert response.status_code == 400
    assert response.json()["fields"] == {"category": ["There is no category with this id."]}


def test_author_filter(api, fiction):
    author = AuthorFactory()
    theirs = BookFactory(authors=[AuthorFactory(), author])
    BookFactory()

    response = api.get(f"/api/v1/books/?author={author.pk}")

    assert ids(response) == [theirs.pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("price_min=12&price_max=20", ["Delta", "Echo"]),
        ("price_max=8", ["Alpha", "Bravo"]),
        ("rating_min=4.5", ["Bravo", "Charlie", "Delta"]),
        ("published_after=2023-01-01", ["Alpha", "Bravo"]),
        ("published_before=2020-01-01", ["Delta", "Echo"]),
        ("published_after=2011-01-01&published_before=2023-12-31&price_max=10", ["Alpha"]),
    ],
)
def test_filters_combine(api, five_books, fiction, query, expected):
    response = api.get(f"/api/v1/books/?category={fiction.pk}&sort=title&{query}")

    assert ids(response) == [five_books[title].pk for title in expected]


def test_in_stock_filter(api, fiction):
    in_stock = BookFactory(stock=1, category=fiction)
    BookFactory(stock=0, category=fiction)

    assert ids(api.get(f"/api/v1/books/?category={fiction.pk}&in_stock=true")) == [in_stock.pk]
    assert len(ids(api.get(f"/api/v1/books/?category={fiction.pk}&in_stock=false"))) == 2


def test_language_filter(api, fiction):
    french = BookFactory(language="fr", category=fiction)
    BookFactory(language="en", category=fiction)

    assert ids(api.get(f"/api/v1/books/?category={fiction.pk}&language=fr")) == [french.pk]


def test_isbn_list_filter_accepts_hyphens(api):
    wanted, also = BookFactory(), BookFactory()
    BookFactory()
    hyphenated = f"{wanted.isbn13[:3]}-{wanted.isbn13[3:]}"

    response = api.get(f"/api/v1/books/?sort=title&isbn={hyphenated},{also.isbn13}")

    assert sorted(ids(response)) == sorted([wanted.pk, also.pk])


def test_list_runs_two_queries_whatever_the_page_size(api, django_assert_num_queries):
    """The page (books + stock + category) and the authors prefetch; the key is cached after the warm-up."""
    for _ in range(30):
        BookFactory(authors=[AuthorFactory(), AuthorFactory()])
    api.get("/api/v1/books/")  # warm-up: records the key's use, caches the category tree

    with django_assert_num_queries(2):
        response = api.get("/api/v1/books/?page_size=25")
    with django_assert_num_queries(2):
        api.get(response.json()["next"])


def test_book_detail_has_description_tags_and_details(api, fantasy):
    book = BookFactory(
        title="Orchard", description="Glass trees.", page_count=352, publisher="Quill & Co", category=fantasy
    )
    book.tags.add(TagFactory(name="magic"), TagFactory(name="glass"))

    body = api.get(f"/api/v1/books/{book.pk}/").json()

    assert body["id"] == book.pk
    assert body["description"] == "Glass trees."
    assert body["page_count"] == 352
    assert body["publisher"] == "Quill & Co"
    assert sorted(body["tags"]) == ["glass", "magic"]


def test_book_detail_runs_three_queries(api, django_assert_num_queries):
    """Book (+ stock + category), authors, tags; the key is cached after the warm-up."""
    book = BookFactory()
    book.tags.add(TagFactory(), TagFactory())
    api.get("/api/v1/books/")

    with django_assert_num_queries(3):
        assert api.get(f"/api/v1/books/{book.pk}/").status_code == 200


def test_book_by_isbn_is_the_same_book(api):
    book = BookFactory()

    by_isbn = api.get(f"/api/v1/books/isbn/{book.isbn13}/")

    assert by_isbn.status_code == 200
    assert by_isbn.json() == api.get(f"/api/v1/books/{book.pk}/").json()


def test_unknown_book_is_404(api):
    response = api.get("/api/v1/books/987654321/")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "There is no book with this id or ISBN.", "fields": {}}


def test_unknown_isbn_is_404_and_an_invalid_one_is_400(api):
    assert api.get("/api/v1/books/isbn/9780306406157/").status_code == 404

    response = api.get("/api/v1/books/isbn/9780306406158/")

    assert response.status_code == 400
    assert response.json()["fields"] == {"isbn13": ["Not a valid ISBN-13."]}


def test_book_id_beyond_bigint_is_404_not_500(api):
    assert api.get(f"/api/v1/books/{2**64}/").status_code == 404


@pytest.mark.parametrize("variant", ["full", "bare"])
def test_hand_written_serializers_match_their_declared_fields(variant, fantasy):
    """The fast ``to_representation`` and DRF's generic one (from the declared fields) agree exactly."""
    from rest_framework import serializers

    from catalog.selectors.cards import book_cards, book_details, books_availability, books_matching
    from catalog.serializers import AvailabilitySerializer, BookDetailSerializer, BookSerializer

    if variant == "full":
        book = BookFactory(
            category=fantasy, publication_date=date(2021, 6, 1), cover_url="https://img.example/c.jpg", page_count=9
        )
        book.tags.add(TagFactory(name="glass"))
    else:
        book = BookFactory(category=None, authors=[], stock=0, price=Decimal("7"), average_rating=Decimal("0"))
    (card,) = book_cards(list(books_matching(sort="title", isbn=[book.isbn13])))
    details = book_details(pk=book.pk)
    (available,), _ = books_availability([book.isbn13])

    for serializer_class, instance in (
        (BookSerializer, card),
        (BookDetailSerializer, details),
        (AvailabilitySerializer, available),
    ):
        fast = serializer_class(instance).data
        generic = serializers.Serializer.to_representation(serializer_class(instance), instance)
        assert fast == dict(generic), serializer_class.__name__
