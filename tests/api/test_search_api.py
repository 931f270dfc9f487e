"""GET /api/v1/search/ and /api/v1/search/autocomplete/: the pages' engine, its fallback, facets.

Most tests run on the database fallback (``SEARCH_FORCE_FALLBACK``), which needs nothing
but Postgres; the last ones build a real OpenSearch index and check the API answers from it.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest
from opensearchpy import OpenSearch

from catalog.selectors.categories import category_index_clear
from search.breaker import opensearch_breaker
from search.services import search_index_rebuild, search_rows_refresh
from tests.factories import AuthorFactory, BookFactory, CategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_search_state():
    opensearch_breaker.reset()
    category_index_clear()
    yield
    category_index_clear()


@pytest.fixture
def fallback(settings):
    settings.SEARCH_FORCE_FALLBACK = True


@pytest.fixture
def shelf():
    fiction = CategoryFactory(name="Fiction", slug="fiction")
    science_fiction = CategoryFactory(name="Science Fiction", slug="science-fiction", parent=fiction)
    history = CategoryFactory(name="History", slug="history")
    herbert = AuthorFactory(name="Frank Herbert", slug="frank-herbert")
    books = {
        "dune": BookFactory(
            title="Dune",
            authors=[herbert],
            category=science_fiction,
            price=Decimal("9.99"),
            average_rating=Decimal("4.6"),
            popularity=900,
            publication_date=date(1965, 6, 1),
            description="A desert planet and the spice that rules the universe.",
        ),
        "messiah": BookFactory(
            title="Dune Messiah",
            authors=[herbert],
            category=science_fiction,
            price=Decimal("12.50"),
            average_rating=Decimal("4.1"),
            popularity=300,
            publication_date=date(1969, 6, 1),
            stock=0,
            description="An emperor sees the future of the desert.",
        ),
        "rome": BookFactory(
            title="SPQR",
            category=history,
            price=Decimal("21.00"),
            description="A history of ancient Rome.",
            publication_date=date(2015, 6, 1),
        ),
    }
    # The fallback searches rows kept by the search app's signals after each commit; tests
    # run inside a transaction, so refresh them as the signal would.
    search_rows_refresh(book_ids=[book.pk for book in books.values()])
    return {"books": books, "science_fiction": science_fiction, "history": history}


def ids(response) -> list[int]:
    return [hit["book"]["id"] for hit in response.json()["results"]]


def test_search_finds_books_with_cards_highlights_and_facets(api, fallback, shelf):
    response = api.get("/api/v1/search/?q=dune")

    body = response.json()
    assert response.status_code == 200
    assert body["backend"] == "database"
    assert sorted(ids(response)) == sorted([shelf["books"]["dune"].pk, shelf["books"]["messiah"].pk])
    assert (body["total"], body["page"], body["num_pages"], body["next_page"]) == (2, 1, 1, None)
    first = body["results"][0]
    assert first["book"] == api.get(f"/api/v1/books/?isbn={shelf['books']['dune'].isbn13}").json()["results"][0] or (
        first["book"]["id"] == shelf["books"]["messiah"].pk
    )
    assert "<mark>Dune</mark>" in first["title_html"]
    facets = {facet["name"]: facet for facet in body["facets"]}
    assert {value["key"]: value["count"] for value in facets["author"]["values"]} == {"Frank Herbert": 2}
    assert response["Cache-Control"] == "public, max-age=60, stale-while-revalidate=60"


def test_facet_filters_narrow_the_results(api, fallback, shelf):
    in_stock = api.get("/api/v1/search/?q=dune&in_stock=true")
    cheap = api.get("/api/v1/search/?price=0-10")
    history = api.get("/api/v1/search/?category=history")

    assert ids(in_stock) == [shelf["books"]["dune"].pk]
    assert ids(cheap) == [shelf["books"]["dune"].pk]
    assert ids(history) == [shelf["books"]["rome"].pk]


def test_an_empty_query_lists_everything_a_page_at_a_time(api, fallback, shelf):
    first = api.get("/api/v1/search/?sort=price&page_size=2").json()
    second = api.get("/api/v1/search/?sort=price&page_size=2&page=2").json()

    assert first["next_page"] == 2
    assert [hit["book"]["price"] for hit in first["results"] + second["results"]] == ["9.99", "12.50", "21.00"]


def test_search_costs_a_fixed_number_of_queries(api, fallback, shelf, django_assert_num_queries):
    more = [BookFactory(title=f"Dune Chronicle {index}", category=shelf["science_fiction"]) for index in range(10)]
    search_rows_refresh(book_ids=[book.pk for book in more])
    api.get("/api/v1/search/?q=dune")

    # The fallback's one statement (hits and every facet), then the hits' books and their authors.
    with django_assert_num_queries(3):
        assert api.get("/api/v1/search/?q=dune&page_size=20").json()["total"] == 12


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("category=no/such/path", "category"),
        ("price=cheap", "price"),
        ("rating=5", "rating"),
        ("decade=1995", "decade"),
        ("language=English", "language"),
        ("sort=popularity", "sort"),
        ("page=0", "page"),
        ("page=51", "page"),
        ("page_size=101", "page_size"),
        ("q=" + "x" * 1001, "q"),
    ],
)
def test_bad_search_input_is_400_naming_the_parameter(api, fallback, shelf, query, field):
    response = api.get(f"/api/v1/search/?{query}")

    assert response.status_code == 400, response.content
    assert [name.split(".")[0] for name in response.json()["fields"]] == [field]  # list items: "price.0"


def test_a_page_past_the_results_is_400(api, fallback, shelf):
    response = api.get("/api/v1/search/?q=dune&page=3")

    assert response.status_code == 400
    assert response.json()["fields"] == {"page": ["There are only 1 pages of results."]}


@pytest.mark.parametrize(
    "text",
    [
        "title:(dune) AND {{",
        '"unbalanced',
        "*",
        "\\",
        "(a|b)*[",
        "x" * 1000,
        "   ",
        "²" * 10,  # ten "digits" to the ISBN-10 check: isdigit() is true, int() raises
        "²²²²²²²²²X",
        "\u0661" * 10,  # Arabic-Indic digits
        "1" * 9 + "²",
    ],
)
def test_query_syntax_and_long_queries_never_fail(api, fallback, shelf, text):
    response = api.get("/api/v1/search/", {"q": text})

    assert response.status_code == 200, response.content


def test_a_long_query_is_cut_and_says_so(api, fallback, shelf, settings):
    response = api.get("/api/v1/search/", {"q": "dune " * 100})

    assert response.json()["query_was_cut"] is True
    assert len(response.json()["query"]) <= settings.SEARCH_MAX_QUERY_LENGTH


def test_autocomplete_suggests_titles_and_authors(api, fallback, shelf):
    response = api.get("/api/v1/search/autocomplete/?q=dun")

    body = response.json()
    assert response.status_code == 200
    assert [title["title"] for title in body["titles"]][:2] == ["Dune", "Dune Messiah"]
    assert body["titles"][0]["url"].startswith("http://127.0.0.1:8000/books/")
    assert api.get("/api/v1/search/autocomplete/?q=herb").json()["authors"][0]["name"] == "Frank Herbert"


def test_autocomplete_says_nothing_below_two_letters_and_refuses_bad_limits(api, fallback, shelf):
    assert api.get("/api/v1/search/autocomplete/?q=d").json()["titles"] == []
    assert api.get("/api/v1/search/autocomplete/?q=dune&limit=0").status_code == 400
    assert api.get("/api/v1/search/autocomplete/").status_code == 400


# --- Through a real OpenSearch index ------------------------------------------------------------------


@pytest.fixture
def opensearch_index(settings):
    if not os.environ.get("OPENSEARCH_URL"):
        pytest.skip("needs OPENSEARCH_URL (make test starts OpenSearch)")
    yield search_index_rebuild
    OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30).indices.delete(
        index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True
    )


def test_search_and_autocomplete_answer_from_opensearch(api, shelf, opensearch_index):
    opensearch_index()

    found = api.get("/api/v1/search/?q=dune&sort=price").json()
    suggested = api.get("/api/v1/search/autocomplete/?q=dune mes").json()

    assert found["backend"] == "opensearch"
    assert ids_of(found) == [shelf["books"]["dune"].pk, shelf["books"]["messiah"].pk]
    assert suggested["backend"] == "opensearch"
    assert suggested["titles"][0]["title"] == "Dune Messiah"


def ids_of(body: dict) -> list[int]:
    return [hit["book"]["id"] for hit in body["results"]]
