"""Reading a search from a URL and writing it back; highlights made safe."""

import pytest

from search.params import SearchFilters, SearchState, clean_query, isbn_in_query
from search.results import MARK_END, MARK_START, safe_highlight


def test_an_isbn_is_recognised_in_any_usual_spelling():
    assert isbn_in_query("9780306406157") == "9780306406157"
    assert isbn_in_query("978-0-306-40615-7") == "9780306406157"
    assert isbn_in_query("0-306-40615-2") == "9780306406157"  # ISBN-10
    assert isbn_in_query("9780306406158") is None  # wrong check digit
    assert isbn_in_query("dune") is None


def test_a_query_is_cleaned_and_cut_at_a_word_boundary(settings):
    settings.SEARCH_MAX_QUERY_LENGTH = 12

    assert clean_query("  dune \n\t messiah ") == ("dune messiah", False)
    assert clean_query("children of dune") == ("children of", True)
    assert clean_query("x" * 50) == ("x" * 12, True)
    assert clean_query("a\x00b") == ("a b", False)


def test_a_state_has_one_url_with_defaults_left_out():
    state = SearchState(query="dune", filters=SearchFilters(category="fiction", prices=("0-10",)), sort="price", page=2)

    assert state.query_string() == "?q=dune&category=fiction&price=0-10&sort=price&page=2"
    assert SearchState().query_string() == ""
    assert state.query_string(page=1, sort="relevance") == "?q=dune&category=fiction&price=0-10"


def test_toggling_a_facet_value_adds_or_removes_it():
    filters = SearchFilters(prices=("0-10",), decades=(1990,))

    assert filters.toggled("price", "10-20").prices == ("0-10", "10-20")
    assert filters.toggled("price", "0-10").prices == ()
    assert filters.toggled("decade", "2000").decades == (1990, 2000)
    assert filters.toggled("category", "fiction").toggled("category", "fiction").category is None
    assert filters.without("decade").decades == ()


@pytest.mark.parametrize(
    ("marked", "html"),
    [
        (f"A {MARK_START}dune{MARK_END} <b>", "A <mark>dune</mark> &lt;b&gt;"),
        (f"{MARK_START}a{MARK_START}b{MARK_END}c{MARK_END}", "<mark>ab</mark>c"),  # nested markers: one mark
        (f"{MARK_START}open", "<mark>open</mark>"),  # never left open
        (f"close{MARK_END} & more", "close &amp; more"),
        ('"><script>', "&quot;&gt;&lt;script&gt;"),
    ],
)
def test_highlights_escape_everything_but_balanced_marks(marked, html):
    assert safe_highlight(marked) == html
