"""GET /api/v1/books/availability/?isbns=…: price and stock for up to 100 ISBNs in one call."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.factories import BookFactory, next_isbn13

pytestmark = pytest.mark.django_db


def test_it_answers_in_the_order_asked_and_lists_unknown_isbns(api):
    cheap = BookFactory(price=Decimal("4.50"), stock=3)
    gone = BookFactory(price=Decimal("12.00"), stock=0)
    unknown = next_isbn13()

    response = api.get(f"/api/v1/books/availability/?isbns={gone.isbn13},{unknown},{cheap.isbn13}")

    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "isbn13": gone.isbn13,
                "book_id": gone.pk,
                "price": "12.00",
                "currency": "USD",
                "stock_on_hand": 0,
                "is_in_stock": False,
            },
            {
                "isbn13": cheap.isbn13,
                "book_id": cheap.pk,
                "price": "4.50",
                "currency": "USD",
                "stock_on_hand": 3,
                "is_in_stock": True,
            },
        ],
        "not_found": [unknown],
    }


def test_repeated_and_hyphenated_isbns_count_once(api):
    book = BookFactory()
    hyphenated = f"{book.isbn13[:3]}-{book.isbn13[3:4]}-{book.isbn13[4:]}"

    response = api.get(f"/api/v1/books/availability/?isbns={book.isbn13},{hyphenated}, {book.isbn13}")

    assert [row["book_id"] for row in response.json()["results"]] == [book.pk]


def test_a_book_without_an_inventory_row_is_out_of_stock(api):
    book = BookFactory()
    book.inventory.delete()

    row = api.get(f"/api/v1/books/availability/?isbns={book.isbn13}").json()["results"][0]

    assert (row["stock_on_hand"], row["is_in_stock"]) == (0, False)


def test_one_hundred_isbns_take_one_query(api, django_assert_num_queries):
    """One query for all the books with their stock (the key is cached after the warm-up)."""
    isbns = [BookFactory().isbn13 for _ in range(60)] + [next_isbn13() for _ in range(40)]
    api.get("/api/v1/books/")

    with django_assert_num_queries(1):
        response = api.get(f"/api/v1/books/availability/?isbns={','.join(isbns)}")

    assert (len(response.json()["results"]), len(response.json()["not_found"])) == (60, 40)


def test_one_hundred_and_one_isbns_are_refused(api):
    isbns = ",".join(next_isbn13() for _ in range(101))

    response = api.get(f"/api/v1/books/availability/?isbns={isbns}")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_input",
        "message": "Some of the input is not valid; see fields.",
        "fields": {"isbns": ["At most 100 ISBNs per request (got 101)."]},
    }


def test_invalid_isbns_are_named(api):
    valid = next_isbn13()

    response = api.get(f"/api/v1/books/availability/?isbns={valid},9780306406158,abc,123")

    assert response.status_code == 400
    assert response.json()["fields"] == {"isbns": ["Not valid ISBN-13s: 9780306406158, abc, 123."]}


@pytest.mark.parametrize("query", ["", "?isbns=", "?isbns=,,,", "?isbn=9780306406157"])
def test_no_isbns_is_a_field_error(api, query):
    response = api.get(f"/api/v1/books/availability/{query}")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["isbns"]


def test_availability_is_cacheable_for_a_short_time(api):
    response = api.get(f"/api/v1/books/availability/?isbns={next_isbn13()}")

    assert response["Cache-Control"] == "public, max-age=10, stale-while-revalidate=10"
