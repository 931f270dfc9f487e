"""A search's cost is bounded by the page, not by how many books match (issue 12).

Both backends count facets over a bounded sample of the best matches (SEARCH_FACET_SAMPLE);
past it the counts are estimates, marked approximate. The total stays exact, a filter never
empties a page whose books lie outside the sample, and the other sorts choose their sample
in their own order. The shelf's "dune" matches three books; a sample of two is "many".
"""

import pytest

from search.engine import search_books
from search.params import SearchFilters

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["opensearch", "database"])
def backend(request, settings):
    settings.SEARCH_FORCE_FALLBACK = request.param == "database"
    settings.SEARCH_FACET_SAMPLE = 2
    settings.SEARCH_RESULTS_CACHE_SECONDS = 0
    return request.param


def facet(result, name):
    return next(facet for facet in result.facets if facet.name == name)


def test_past_the_sample_facet_counts_are_estimates_and_the_total_is_exact(indexed_shelf, backend):
    result = search_books(query="dune", page_size=1)

    assert result.backend == backend
    assert result.total == 3
    assert [book.title for book in result.books] == ["Dune"]
    categories = facet(result, "category")
    assert categories.approximate
    # Two of the three sampled, scaled by 3/2: the estimate is the true count here.
    counts = {value.key: value.count for value in categories.values}
    assert counts["fiction"] == 3


def test_within_the_sample_facet_counts_are_exact(indexed_shelf, backend):
    result = search_books(query="hobbit", page_size=1)

    assert result.total == 1
    assert not any(facet.approximate for facet in result.facets)


def test_a_filter_finds_books_outside_the_unfiltered_sample(indexed_shelf, backend):
    # The sample of "dune" holds Dune and Dune Messiah; only Children of Dune is from the 1970s.
    result = search_books(query="dune", filters=SearchFilters(decades=(1970,)), page_size=1)

    assert [book.title for book in result.books] == ["Children of Dune"]
    assert result.total == 1


def test_another_sort_orders_every_match_not_only_the_sample(indexed_shelf, backend):
    result = search_books(query="dune", sort="price-desc", page_size=1)

    assert [book.title for book in result.books] == ["Children of Dune"]  # 14.00, the dearest
    assert result.total == 3


def test_every_page_of_a_bounded_search_is_reachable(indexed_shelf, backend):
    pages = [search_books(query="dune", page=page, page_size=1) for page in (1, 2, 3)]

    assert sorted(book.title for result in pages for book in result.books) == [
        "Children of Dune",
        "Dune",
        "Dune Messiah",
    ]


def test_the_sidebar_says_which_counts_are_estimates(indexed_shelf, backend, client):
    # OpenSearch samples SEARCH_FACET_SAMPLE per shard; the fallback at least a page (24).
    response = client.get("/search/", {"q": "dune"})

    assert response.status_code == 200
    estimated = "estimated from the best matches" in response.text
    assert estimated == (backend == "opensearch")
