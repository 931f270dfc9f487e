"""The database fallback (Postgres full-text + pg_trgm; a plain query on SQLite)."""

from decimal import Decimal

import pytest

from search import engine
from search.backends import sqlite
from search.engine import autocomplete, search_books
from search.models import BookSearchDocument, Synonym
from search.services import search_rows_refresh
from tests.factories import AuthorFactory, BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _database_only(settings):
    settings.OPENSEARCH_URL = ""


def titles(query: str, **kwargs) -> list[str]:
    result = search_books(query=query, **kwargs)
    assert result.backend == "database"
    return [book.title for book in result.books]


def test_title_outranks_author_outranks_description():
    in_description = BookFactory(title="Garden Notes", description="All about the orchid and its care.")
    by_author = BookFactory(title="Windowsill Plants", authors=[AuthorFactory(name="Olive Orchid")])
    in_title = BookFactory(title="The Orchid", description="Flowers.")
    search_rows_refresh(book_ids=[in_description.pk, by_author.pk, in_title.pk])

    assert titles("orchid") == ["The Orchid", "Windowsill Plants", "Garden Notes"]


def test_the_weighted_vector_is_kept_in_the_search_rows(shelf):
    search_rows_refresh(book_ids=[shelf.dune.pk])

    row = BookSearchDocument.objects.get(book=shelf.dune)
    vector = str(row.search_vector)
    # Title A, authors B, category C, description D (D is the weight Postgres leaves unprinted).
    assert "'dune':1A" in vector
    assert "'herbert':3B" in vector
    assert "'scienc':5C" in vector
    assert "'desert':8 " in vector
    assert row.search_text == "dune frank herbert"
    assert row.title_keys == ["dune", "dune"]
    assert row.series_number is None


def test_a_typo_is_found_by_trigram_similarity(indexed_shelf):
    assert titles("the hobit")[0] == "The Hobbit"
    assert titles("neuromancr")[0] == "Neuromancer"
    assert titles("felowship rinq") == ["The Fellowship of the Ring"]


def test_an_exact_title_and_an_isbn_rank_first(indexed_shelf):
    assert titles("emma")[0] == "Emma"
    assert titles(indexed_shelf.foundation.isbn13) == ["Foundation"]


def test_synonyms_expand_the_fallback_query_too(indexed_shelf):
    Synonym.objects.create(terms="ya, young adult")

    assert titles("ya") == ["The Hunger Games"]


def test_matches_are_highlighted_safely(search_index):
    book = BookFactory(title="<b>Bold</b> & the Orchid", description="An orchid <script>alert(1)</script> story.")
    search_rows_refresh(book_ids=[book.pk])

    hit = search_books(query="orchid").hits[0]

    assert hit.title_html == "&lt;b&gt;Bold&lt;/b&gt; &amp; the <mark>Orchid</mark>"
    assert "<mark>orchid</mark> &lt;script&gt;" in hit.snippet_html


def test_did_you_mean_offers_the_closest_title_when_nothing_matches(indexed_shelf):
    result = search_books(query="teh fellowship")  # "teh" is too short to be taken for a typo

    assert result.total == 0
    assert result.suggestion == "the fellowship of the ring"


def test_the_page_of_a_fallback_search_costs_a_fixed_number_of_queries(indexed_shelf, django_assert_num_queries):
    search_books(query="dune")  # warms the category tree cache

    # One statement for the page of ids, the total and every facet; two for the cards; and
    # the analytics flush's five (savepoint, batch record, search log row, daily count upsert,
    # release), run in-process only because tests run Celery eagerly.
    with django_assert_num_queries(8):
        search_books(query="dune")


def test_autocomplete_offers_titles_and_authors_from_the_database(indexed_shelf):
    result = autocomplete(prefix="tolk")

    assert result.backend == "database"
    assert [author.name for author in result.authors] == ["J. R. R. Tolkien"]
    assert [title.title for title in result.titles] == ["The Hobbit", "The Fellowship of the Ring"]
    assert autocomplete(prefix="fellowship of th").titles[0].url == indexed_shelf.fellowship.get_absolute_url()


def test_the_sqlite_path_requires_every_word_in_title_or_author(indexed_shelf, monkeypatch):
    monkeypatch.setattr(engine, "database_backend", lambda: sqlite)

    assert titles("dune herbert") == ["Dune", "Dune Messiah", "Children of Dune"]
    assert titles("dune") == ["Dune", "Dune Messiah", "Children of Dune"]
    assert titles("hobbit austen") == []
    assert [t.title for t in autocomplete(prefix="neuro").titles] == ["Neuromancer"]


def test_sorting_by_price_uses_the_catalog_order(indexed_shelf):
    assert titles("dune", sort="price") == ["Dune", "Dune Messiah", "Children of Dune"]
    assert titles("dune", sort="price-desc") == ["Children of Dune", "Dune Messiah", "Dune"]
    BookFactory(title="Dune Atlas", price=Decimal("1.00"))


@pytest.mark.parametrize("query", ["*", "\\", "(", "[-", "%", "'; --", ".*+?"])
def test_a_query_without_words_finds_nothing_and_never_fails(indexed_shelf, query):
    result = search_books(query=query)

    assert result.backend == "database"
    assert result.total == 0
    assert autocomplete(prefix=query * 2).titles == []


def test_accents_are_folded_in_the_fallback_as_in_opensearch():
    book = BookFactory(title="Travesuras de la niña mala", description="Una novela.")
    turkish = BookFactory(title="Kürk Mantolu Madonna", description="Bir roman.")
    search_rows_refresh(book_ids=[book.pk, turkish.pk])

    assert titles("travesuras de la nina mala") == ["Travesuras de la niña mala"]
    assert titles("kurk mantolu") == ["Kürk Mantolu Madonna"]
    assert titles("niña") == ["Travesuras de la niña mala"]
