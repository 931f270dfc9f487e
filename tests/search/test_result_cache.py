"""Shared answers from OpenSearch (search.result_cache), against the real node and Redis."""

from decimal import Decimal

import pytest

from catalog import services as catalog_services
from catalog.models import Book
from search import engine
from search.backends import opensearch
from search.breaker import opensearch_breaker
from search.params import SearchFilters
from search.result_cache import search_results_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(monkeypatch):
    """The searches that reached OpenSearch (the others were answered from the cache)."""
    queries: list[str] = []
    original = opensearch._find

    def counting(spec):
        queries.append(spec.query)
        return original(spec)

    monkeypatch.setattr(opensearch, "_find", counting)
    return queries


def titles(result) -> list[str]:
    return [hit.book.title for hit in result.hits]


def test_a_repeated_search_is_answered_without_asking_opensearch(indexed_shelf, asked):
    first = engine.search_books(query="dune")
    second = engine.search_books(query="dune")

    assert asked == ["dune"]
    assert titles(second) == titles(first) == ["Dune", "Dune Messiah", "Children of Dune"]
    assert second.backend == "opensearch"
    assert [facet.name for facet in second.facets] == [facet.name for facet in first.facets]
    assert second.total == first.total == 3


def test_each_filter_sort_page_and_synonym_set_is_its_own_answer(indexed_shelf, asked):
    fantasy = SearchFilters(category=indexed_shelf.fantasy.path)
    engine.search_books(query="dune")
    engine.search_books(query="dune", sort="price-desc")
    engine.search_books(query="dune", filters=SearchFilters(in_stock=True))
    engine.search_books(query="dune", page_size=1, page=2)
    engine.search_books(query="", filters=fantasy)

    assert asked == ["dune", "dune", "dune", "dune", ""]
    assert titles(engine.search_books(query="dune", sort="price-desc")) == ["Children of Dune", "Dune Messiah", "Dune"]
    assert titles(engine.search_books(query="dune", filters=SearchFilters(in_stock=True))) == ["Dune", "Dune Messiah"]
    assert len(asked) == 5


def test_a_kept_answer_still_shows_todays_price_and_stock(indexed_shelf, asked):
    engine.search_books(query="dune")
    # Straight to the database: the index (and so the kept answer) does not know yet.
    Book.objects.filter(pk=indexed_shelf.dune.pk).update(price=Decimal("1.00"))

    again = engine.search_books(query="dune")

    assert asked == ["dune"]
    assert again.hits[0].book.price == Decimal("1.00")


def test_an_index_write_retires_every_kept_answer(indexed_shelf, asked, django_capture_on_commit_callbacks):
    before = engine.search_books(query="dune", filters=SearchFilters(in_stock=True))
    assert titles(before) == ["Dune", "Dune Messiah"]

    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.inventory_set_stock(book_ids=[indexed_shelf.children_of_dune.pk], stock_on_hand=4)
    after = engine.search_books(query="dune", filters=SearchFilters(in_stock=True))

    assert titles(after) == ["Dune", "Dune Messiah", "Children of Dune"]
    assert len(asked) == 2


def test_an_answer_computed_while_a_write_landed_is_not_trusted(indexed_shelf, monkeypatch):
    calls: list[str] = []
    original = opensearch._find

    def write_lands_meanwhile(spec):
        calls.append(spec.query)
        answer = original(spec)
        search_results_changed()  # the index changed after OpenSearch answered
        return answer

    monkeypatch.setattr(opensearch, "_find", write_lands_meanwhile)
    engine.search_books(query="dune")
    engine.search_books(query="dune")

    assert calls == ["dune", "dune"]


def test_fallback_answers_are_never_kept(indexed_shelf, asked):
    opensearch_breaker.trip()
    during = engine.search_books(query="dune")
    opensearch_breaker.reset()

    after = engine.search_books(query="dune")

    assert during.backend == "database"
    assert after.backend == "opensearch"
    assert asked == ["dune"]


def test_a_zero_second_lifetime_turns_the_cache_off(indexed_shelf, asked, settings):
    settings.SEARCH_RESULTS_CACHE_SECONDS = 0

    engine.search_books(query="dune")
    engine.search_books(query="dune")

    assert asked == ["dune", "dune"]


def test_a_kept_answer_past_the_last_page_still_says_so(indexed_shelf):
    engine.search_books(query="dune", page_size=2)

    with pytest.raises(engine.SearchPageOutOfRange):
        engine.search_books(query="dune", page_size=2, page=3)
    with pytest.raises(engine.SearchPageOutOfRange):
        engine.search_books(query="dune", page_size=2, page=3)


def test_the_results_page_sidebar_follows_the_counts(client, indexed_shelf, django_capture_on_commit_callbacks):
    before = client.get("/search/", {"q": "dune"}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.inventory_set_stock(book_ids=[indexed_shelf.children_of_dune.pk], stock_on_hand=4)
    after = client.get("/search/", {"q": "dune"}).content.decode()

    def in_stock_count(html: str) -> str:
        item = html.split("in_stock=1")[1]
        return item.split('class="facet__count">')[1].split("<")[0]

    assert in_stock_count(before) == "2"
    assert in_stock_count(after) == "3"
