"""Facets: counts, hierarchy, and how filters combine — the same from OpenSearch's
aggregations and from the Postgres fallback's SQL (every test runs against both)."""

import pytest

from search import engine
from search.params import SearchFilters

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["opensearch", "database"])
def backend(request, settings):
    settings.SEARCH_FORCE_FALLBACK = request.param == "database"
    return request.param


@pytest.fixture
def search_books(backend):
    def run(**kwargs):
        result = engine.search_books(**kwargs)
        assert result.backend == backend
        return result

    return run


def counts(result, facet: str) -> dict[str, int]:
    found = result.facet(facet)
    return {value.key: value.count for value in found.values} if found else {}


def selected(result, facet: str) -> list[str]:
    return [value.key for value in result.facet(facet).values if value.is_selected]


def test_the_category_facet_counts_root_categories_with_their_subtrees(indexed_shelf, search_books):
    result = search_books(query="")

    assert counts(result, "category") == {"children": 1, "fiction": 11, "non-fiction": 1}


def test_selecting_a_category_shows_its_children_and_keeps_the_other_roots_counts(indexed_shelf, search_books):
    result = search_books(query="", filters=SearchFilters(category="fiction"))

    assert result.total == 11
    assert counts(result, "category") == {
        "children": 1,
        "fiction": 11,
        "fiction/classics": 3,
        "fiction/fantasy": 2,
        "fiction/science-fiction": 6,
        "non-fiction": 1,
    }
    depths = {value.key: value.depth for value in result.facet("category").values}
    assert depths["fiction"] == 0
    assert depths["fiction/fantasy"] == 1
    assert selected(result, "category") == ["fiction"]


def test_a_subcategory_includes_its_own_subcategories(indexed_shelf, search_books):
    result = search_books(query="", filters=SearchFilters(category="fiction/science-fiction"))

    assert sorted(book.title for book in result.books) == [
        "Children of Dune",
        "Dune",
        "Dune Messiah",
        "Fondation",
        "Foundation",
        "Neuromancer",
    ]
    assert counts(result, "category")["fiction/science-fiction/space-opera"] == 2


def test_the_facets_count_only_what_the_query_matches(indexed_shelf, search_books):
    result = search_books(query="dune")

    assert counts(result, "category") == {"fiction": 3}
    assert counts(result, "author") == {"Frank Herbert": 3}
    assert counts(result, "in_stock") == {"1": 2}  # Children of Dune is out of stock
    assert counts(result, "decade") == {"1960": 2, "1970": 1}


def test_price_ranges_and_rating_thresholds(indexed_shelf, search_books):
    result = search_books(query="")

    assert counts(result, "price") == {"0-10": 3, "10-20": 7, "20-30": 2, "30-50": 1}
    assert counts(result, "rating") == {"4": 9, "3": 13, "2": 13, "1": 13}


def test_values_of_one_facet_are_alternatives(indexed_shelf, search_books):
    result = search_books(query="", filters=SearchFilters(prices=("0-10", "30-50")))

    assert sorted(book.title for book in result.books) == ["A History of Science Fiction", "Dune", "Emma", "The Hobbit"]
    # The price facet itself still shows every range, so another can be added.
    assert counts(result, "price") == {"0-10": 3, "10-20": 7, "20-30": 2, "30-50": 1}
    assert selected(result, "price") == ["0-10", "30-50"]


def test_different_facets_narrow_each_other(indexed_shelf, search_books):
    filters = SearchFilters(category="fiction/science-fiction", min_rating=4, in_stock=True)
    result = search_books(query="", filters=filters)

    assert sorted(book.title for book in result.books) == ["Dune", "Dune Messiah", "Fondation", "Foundation"]
    # Each facet is counted with the other facets' filters: the rating facet ignores the
    # rating filter but applies the category and stock ones.
    assert counts(result, "rating") == {"4": 4, "3": 5, "2": 5, "1": 5}
    assert counts(result, "in_stock") == {"1": 4}
    assert counts(result, "language") == {"en": 3, "fr": 1}


def test_the_language_and_decade_facets(indexed_shelf, search_books):
    result = search_books(query="", filters=SearchFilters(languages=("fr",)))

    assert [book.title for book in result.books] == ["Fondation"]
    assert counts(result, "language") == {"en": 12, "fr": 1}
    assert counts(search_books(query="", filters=SearchFilters(decades=(1950,))), "decade")["1950"] == 3


def test_the_author_facet_filters_by_author(indexed_shelf, search_books):
    result = search_books(query="", filters=SearchFilters(authors=("Isaac Asimov",)))

    assert sorted(book.title for book in result.books) == ["Fondation", "Foundation"]
    assert selected(result, "author") == ["Isaac Asimov"]


def test_a_selected_value_with_no_books_stays_listed_so_it_can_be_removed(indexed_shelf, search_books):
    result = search_books(query="dune", filters=SearchFilters(authors=("Nobody At All",)))

    assert result.total == 0
    assert selected(result, "author") == ["Nobody At All"]


def test_unknown_filter_values_from_a_url_are_dropped():
    params = {
        "category": ["no/such/category"],
        "price": ["1-2", "0-10"],
        "rating": ["9", "x"],
        "language": ["<script>", "FR"],
        "decade": ["1234", "19x0", "1990"],
        "in_stock": ["maybe"],
    }
    filters = SearchFilters.from_params(lambda name: params.get(name, []), known_categories={"fiction"})

    assert filters == SearchFilters(prices=("0-10",), languages=("fr",), decades=(1990,))


def test_filters_that_empty_the_page_bring_no_typo_guesses(indexed_shelf, search_books):
    result = search_books(query="dune", filters=SearchFilters(languages=("fr",)))

    assert result.total == 0
    assert result.suggestion is None
    # The facets still show where the matches are, so a filter can be removed.
    assert {value.key: value.count for value in result.facet("language").values} == {"en": 3, "fr": 0}
