"""GET /api/v1/authors/, /authors/<id>/, /categories/ and /books/<id>/reviews/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Review
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_authors_are_listed_by_name_a_page_at_a_time(api):
    names = ["Zadie", "Anne", "Mara", "Anne", "Chinua"]
    authors = [AuthorFactory(name=name, slug=f"{name.lower()}-{index}") for index, name in enumerate(names)]
    expected = [author.pk for author in sorted(authors, key=lambda author: (author.name, author.pk))]

    first = api.get("/api/v1/authors/?page_size=2").json()
    rest = [api.get(first["next"]).json()]
    while rest[-1]["next"]:
        rest.append(api.get(rest[-1]["next"]).json())

    rows = [row for page in [first, *rest] for row in page["results"]]
    # Filtered to ours: another test run may share the database.
    assert [row["id"] for row in rows if row["id"] in expected] == expected
    assert next(row for row in rows if row["id"] == expected[0]) == {
        "id": expected[0],
        "name": "Anne",
        "slug": "anne-1",
        "url": "http://127.0.0.1:8000/authors/anne-1/",
    }


def test_author_detail_counts_their_books(api):
    author = AuthorFactory(name="Mara Quill", slug="mara-quill", bio="Writes about glass.")
    BookFactory(authors=[author])
    BookFactory(authors=[AuthorFactory(), author])

    response = api.get(f"/api/v1/authors/{author.pk}/")

    assert response.json() == {
        "id": author.pk,
        "name": "Mara Quill",
        "slug": "mara-quill",
        "url": "http://127.0.0.1:8000/authors/mara-quill/",
        "bio": "Writes about glass.",
        "book_count": 2,
    }


def test_unknown_author_is_404(api):
    assert api.get("/api/v1/authors/999999/").status_code == 404


def test_category_tree_nests_children_by_name(api):
    fiction = CategoryFactory(name="Fiction", slug="fiction")
    science = CategoryFactory(name="Science", slug="science")
    fantasy = CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)
    crime = CategoryFactory(name="Crime", slug="crime", parent=fiction)
    epic = CategoryFactory(name="Epic", slug="epic", parent=fantasy)

    body = api.get("/api/v1/categories/").json()

    def node(category, children):
        return {
            "id": category.pk,
            "name": category.name,
            "slug": category.slug,
            "path": category.path,
            "depth": category.depth,
            "children": children,
        }

    assert body == {
        "results": [
            node(fiction, [node(crime, []), node(fantasy, [node(epic, [])])]),
            node(science, []),
        ]
    }


def test_category_tree_costs_no_query_once_cached(api, django_assert_num_queries):
    """The tree and the key are both cached after the first request."""
    CategoryFactory()
    api.get("/api/v1/categories/")

    with django_assert_num_queries(0):
        api.get("/api/v1/categories/")


def test_reviews_are_newest_first_and_page_by_cursor(api):
    book = BookFactory()
    now = timezone.now()
    reviews = []
    for index in range(5):
        review = ReviewFactory(book=book, user=UserFactory(username=f"reader-{index}"), title=f"Review {index}")
        # Two share a timestamp, so the id breaks the tie.
        Review.objects.filter(pk=review.pk).update(created_at=now - timedelta(hours=min(index, 3)))
        reviews.append(review)
    ReviewFactory(book=BookFactory())  # another book's

    first = api.get(f"/api/v1/books/{book.pk}/reviews/?page_size=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()

    walked = [row["id"] for page in (first, second, third) for row in page["results"]]
    assert walked == [reviews[0].pk, reviews[1].pk, reviews[2].pk, reviews[4].pk, reviews[3].pk]
    assert third["next"] is None
    assert set(first["results"][0]) == {
        "id",
        "rating",
        "title",
        "body",
        "reviewer",
        "verified_purchase",
        "created_at",
        "updated_at",
    }
    assert first["results"][0]["reviewer"] == "reader-0"


def test_reviews_take_two_queries(api, django_assert_num_queries):
    """The book's existence, the reviews with their reviewers (the key is cached after the warm-up)."""
    book = BookFactory()
    for _ in range(4):
        ReviewFactory(book=book)
    api.get("/api/v1/categories/")

    with django_assert_num_queries(2):
        api.get(f"/api/v1/books/{book.pk}/reviews/")


def test_reviews_of_an_unknown_book_are_404(api):
    assert api.get("/api/v1/books/999999/reviews/").status_code == 404
