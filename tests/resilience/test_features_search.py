"""Search without facet counts: when the feature is off, on every backend, and never mixed up in the caches."""

from __future__ import annotations

import os

import pytest
from opensearchpy import OpenSearch

from catalog.selectors.categories import category_index_clear
from cloudshelf.celery import app as celery_app
from cloudshelf.edge.page_cache import local_pages
from cloudshelf.features.services import feature_flag_set
from cloudshelf.features.shedding import monitor
from search import engine, synonyms
from search.services import search_index_rebuild
from tests.search.conftest import Shelf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_features")]


@pytest.fixture
def indexed_shelf(settings):
    """The search tests' small catalog (``tests.search.conftest.Shelf``) in this test's own OpenSearch index."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # book changes indexed in-process, as in tests/search
    synonyms.synonyms_changed()
    category_index_clear()
    shelf = Shelf()
    search_index_rebuild()
    yield shelf
    celery_app.conf.task_always_eager = previous
    client = OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30)
    client.indices.delete(index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True)


AUTHOR_FACET = 'class="facet__title">Author</h3>'


def switch(name: str, on: bool, capture) -> None:
    with capture(execute=True):
        feature_flag_set(name=name, is_enabled=on)


def facet_names(result) -> list[str]:
    return [facet.name for facet in result.facets]


def test_with_facet_counts_off_the_results_page_keeps_hits_and_filters_but_no_facets(
    client, indexed_shelf, django_capture_on_commit_callbacks
):
    switch("facet_counts", False, django_capture_on_commit_callbacks)

    response = client.get("/search/", {"q": "dune", "author": "Frank Herbert"})

    html = response.content.decode()
    assert response.status_code == 200
    assert [hit.book.title for hit in response.context["result"].hits] == ["Dune", "Dune Messiah", "Children of Dune"]
    assert response["X-Search-Backend"] == "opensearch"
    assert AUTHOR_FACET not in html
    assert "Refine results" not in html
    assert "Frank Herbert" in html  # the active filter, still removable


def test_switching_facet_counts_off_retires_kept_results_pages(
    client, indexed_shelf, django_capture_on_commit_callbacks
):
    assert AUTHOR_FACET in client.get("/search/", {"q": "dune"}).content.decode()
    assert client.get("/search/", {"q": "dune"})["X-Page-Cache"] == "hit"

    switch("facet_counts", False, django_capture_on_commit_callbacks)
    local_pages.clear()
    response = client.get("/search/", {"q": "dune"})

    assert response["X-Page-Cache"] == "miss"
    assert AUTHOR_FACET not in response.content.decode()


def test_shared_answers_without_facets_are_never_served_as_full_ones_or_the_reverse(indexed_shelf):
    lighter = engine.search_books(query="dune", with_facets=False)
    full = engine.search_books(query="dune")
    lighter_again = engine.search_books(query="dune", with_facets=False)

    assert (lighter.backend, full.backend) == ("opensearch", "opensearch")
    assert facet_names(lighter) == []
    assert "author" in facet_names(full)
    assert facet_names(lighter_again) == []
    assert [hit.book.pk for hit in lighter.hits] == [hit.book.pk for hit in full.hits]
    assert lighter.total == full.total == 3


def test_the_database_fallback_skips_facets_too(indexed_shelf, settings):
    settings.SEARCH_FORCE_FALLBACK = True

    lighter = engine.search_books(query="dune", with_facets=False)
    full = engine.search_books(query="dune")

    assert (lighter.backend, full.backend) == ("database", "database")
    assert facet_names(lighter) == []
    assert "author" in facet_names(full)
    assert lighter.total == full.total == 3


def test_the_fallback_broad_search_cache_never_serves_an_answer_without_facets_as_a_full_one(
    indexed_shelf, settings, monkeypatch
):
    from search.backends import postgres

    settings.SEARCH_FORCE_FALLBACK = True
    monkeypatch.setattr(postgres, "BROAD_MATCH", 1)  # "dune" (3 books) counts as broad: kept

    lighter = engine.search_books(query="dune", with_facets=False)
    full = engine.search_books(query="dune")
    lighter_again = engine.search_books(query="dune", with_facets=False)

    assert facet_names(lighter) == []
    assert "author" in facet_names(full)
    assert facet_names(lighter_again) == []


def test_while_shedding_search_still_answers_without_facets(client, indexed_shelf, clock, settings):
    settings.LOAD_SHED_MAX_IN_FLIGHT = 8
    for _ in range(8):
        monitor.request_started()
    for _ in range(8):
        monitor.request_finished()

    response = client.get("/search/", {"q": "dune"})

    assert response.status_code == 200
    assert response.context["result"].total == 3
    assert AUTHOR_FACET not in response.content.decode()
    assert "s-maxage=10," in response["Cache-Control"]
