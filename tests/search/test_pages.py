"""The results page (/search/) and the autocomplete endpoint (/search/autocomplete)."""

import re
from html import unescape

import pytest
from django.conf import settings as django_settings

from search.engine import search_books
from tests.factories import BookFactory
from tests.test_css_contrast import css_rule_bodies

pytestmark = pytest.mark.django_db


def result_titles(response) -> list[str]:
    return [hit.book.title for hit in response.context["result"].hits]


def test_the_results_page_lists_matching_books_with_facets(client, indexed_shelf):
    response = client.get("/search/", {"q": "dune"})

    assert response.status_code == 200
    assert result_titles(response) == ["Dune", "Dune Messiah", "Children of Dune"]
    html = response.content.decode()
    assert "1\N{EN DASH}3 of 3 books" in html
    assert 'class="facet__title">Author</h3>' in html
    assert "Frank Herbert" in html
    assert 'meta name="robots" content="noindex, follow"' in html


def test_the_header_search_box_targets_the_results_page_and_keeps_the_query(client, indexed_shelf):
    html = client.get("/search/", {"q": "dune"}).content.decode()

    assert 'action="/search/"' in html
    assert 'value="dune"' in html
    assert 'data-autocomplete-url="/search/autocomplete"' in html
    assert 'role="combobox"' in html
    assert "js/search.js" in html


def test_each_state_has_one_shareable_url(client, indexed_shelf):
    response = client.get("/search/?sort=price&category=fiction&q=dune&price=0-10&price=10-20")

    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', response.content.decode()).group(1)
    assert unescape(canonical).endswith("/search/?q=dune&category=fiction&price=0-10&price=10-20&sort=price")
    assert client.get(unescape(canonical).removeprefix(django_settings.SITE_URL)).context["result"].total == 3


def test_facet_links_add_a_filter_and_go_back_to_page_one(client, indexed_shelf):
    response = client.get("/search/", {"q": "dune", "page": "1"})

    html = unescape(response.content.decode())
    assert 'href="?q=dune&author=Frank+Herbert"' in html
    assert 'href="?q=dune&in_stock=1"' in html


def test_active_filters_can_be_removed_one_by_one(client, indexed_shelf):
    response = client.get("/search/", {"q": "dune", "in_stock": "1", "decade": "1960"})

    assert result_titles(response) == ["Dune", "Dune Messiah"]
    removals = [unescape(link["remove_query"]) for link in response.context["active_filters"]]
    assert removals == ["?q=dune&decade=1960", "?q=dune&in_stock=1"]
    html = unescape(response.content.decode())
    assert 'In stock<span class="visually-hidden"> (remove this filter)' in html
    assert "Clear all filters" in html


def test_highlights_mark_matches_and_escape_everything_else(client, search_index):
    BookFactory(title="Orchids & <Roses>", description='An orchid guide. <img src=x onerror="alert(1)">')
    search_index()

    response = client.get("/search/", {"q": "orchid"})

    html = response.content.decode()
    assert "<mark>orchid</mark> guide. &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<img src=x" not in html
    hit = response.context["result"].hits[0]
    assert str(hit.title_html) == "<mark>Orchids</mark> &amp; &lt;Roses&gt;"


def test_a_query_that_finds_nothing_offers_a_correction_that_does(client, indexed_shelf):
    # "teh" is too short to be corrected by typo tolerance (4+ letters), so nothing matches.
    response = client.get("/search/", {"q": "teh hobbit"})

    assert response.context["result"].total == 0
    html = response.content.decode()
    assert "Did you mean" in html
    suggestion = response.context["result"].suggestion
    assert suggestion == "the hobbit"
    assert 'href="/search/?q=the+hobbit"' in html
    assert search_books(query=suggestion).total == 1


def test_sorting_by_price_keeps_the_query_and_filters(client, indexed_shelf):
    response = client.get("/search/", {"q": "dune", "sort": "price-desc", "in_stock": "1"})

    assert result_titles(response) == ["Dune Messiah", "Dune"]
    html = response.content.decode()
    assert '<input type="hidden" name="q" value="dune">' in html
    assert '<input type="hidden" name="in_stock" value="1">' in html


def test_pages_beyond_the_results_or_the_cap_answer_404_with_a_way_back(client, indexed_shelf, settings):
    settings.SEARCH_PAGE_SIZE = 2

    assert result_titles(client.get("/search/", {"q": "dune", "page": "2"})) == ["Children of Dune"]
    past_the_end = client.get("/search/", {"q": "dune", "page": "3"})
    assert past_the_end.status_code == 404
    assert "There are only 2 pages of results." in past_the_end.content.decode()
    assert "?q=dune&amp;page=2" in past_the_end.content.decode()
    past_the_cap = client.get("/search/", {"page": str(settings.SEARCH_MAX_PAGE + 1)})
    assert past_the_cap.status_code == 404
    assert f"Search results stop at page {settings.SEARCH_MAX_PAGE}" in past_the_cap.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 1000},
        {"q": "dune " * 200},
        {"q": 'title:(dune AND "messiah") OR author:* [1 TO 5] {a} ~2 ^3 \\ / - + ! && || <b>'},
        {"q": "\x00\x1f control \u202e characters"},
        {"q": "dune", "category": "no/such", "price": "9-99", "rating": "77", "decade": "abcd", "language": "<x>"},
        {"q": "dune", "sort": "'; DROP TABLE catalog_book; --"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "99999999999999999999"},
    ],
)
def test_bad_input_gets_a_clear_answer_never_an_error(client, indexed_shelf, params):
    response = client.get("/search/", params)

    assert response.status_code in (200, 404)
    assert b"Results for" in response.content or b"All books" in response.content


def test_a_long_query_is_cut_at_a_word_boundary_and_says_so(client, indexed_shelf, settings):
    response = client.get("/search/", {"q": "dune " * 100})

    result = response.context["result"]
    assert response.context["query_was_cut"]
    assert len(result.query) <= settings.SEARCH_MAX_QUERY_LENGTH
    assert result.query.endswith("dune")
    assert "That was a long search" in response.content.decode()


def test_the_results_page_costs_a_fixed_number_of_queries(client, indexed_shelf, django_assert_num_queries):
    client.get("/search/", {"q": "dune"})  # warms the category tree and navigation caches

    # The cards: books with their stock, then their authors; the rest comes from OpenSearch
    # and the cache. +5 for the analytics flush, run in-process only because tests run Celery
    # eagerly: savepoint, batch record, search log row, daily count upsert, release.
    with django_assert_num_queries(7):
        client.get("/search/", {"q": "dune", "category": "fiction", "in_stock": "1"})


def test_autocomplete_suggests_titles_and_authors_from_the_second_letter(client, indexed_shelf):
    assert client.get("/search/autocomplete", {"q": "t"}).json()["titles"] == []

    body = client.get("/search/autocomplete", {"q": "tolk"}).json()

    assert [title["title"] for title in body["titles"]] == ["The Hobbit", "The Fellowship of the Ring"]
    assert body["titles"][0]["url"] == indexed_shelf.hobbit.get_absolute_url()
    assert body["titles"][0]["authors"] == ["J. R. R. Tolkien"]
    assert body["authors"] == [{"name": "J. R. R. Tolkien", "url": "/authors/j-r-r-tolkien/"}]
    assert body["search_url"] == "/search/?q=tolk"


def test_autocomplete_matches_partial_words_across_title_and_author(client, indexed_shelf):
    body = client.get("/search/autocomplete", {"q": "dune herb"}).json()

    assert [title["title"] for title in body["titles"]] == ["Dune", "Dune Messiah", "Children of Dune"]
    assert body["authors"] == [{"name": "Frank Herbert", "url": "/authors/frank-herbert/"}]


def test_autocomplete_answers_are_cacheable_and_cost_no_database_query(
    client, indexed_shelf, django_assert_num_queries
):
    with django_assert_num_queries(0):
        response = client.get("/search/autocomplete", {"q": "dun"})

    assert response["Cache-Control"] == "public, max-age=60"
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("query", ["", "a", "x" * 1000, '"*?<>{}[]\\', "\x00"])
def test_autocomplete_never_fails_on_bad_input(client, indexed_shelf, query):
    response = client.get("/search/autocomplete", {"q": query})

    assert response.status_code == 200
    assert set(response.json()) == {"query", "titles", "authors", "search_url"}


def test_a_match_in_the_title_is_marked_in_the_card_even_without_a_description(client, search_index):
    # Imported books have no description, so their snippet is empty: the mark is in the title.
    BookFactory(title="The Hunger Games (The Hunger Games, #1)", description="")
    search_index()

    html = client.get("/search/", {"q": "hunger"}).content.decode()

    assert '<h3 class="book-card__title"><a href="/books/' in html
    assert ">The <mark>Hunger</mark> Games (The <mark>Hunger</mark> Games, #1)</a></h3>" in html


def test_the_marked_title_is_escaped_in_the_card(client, search_index):
    BookFactory(title="Orchids & <Roses>", description="")
    search_index()

    html = client.get("/search/", {"q": "orchids"}).content.decode()

    assert "><mark>Orchids</mark> &amp; &lt;Roses&gt;</a></h3>" in html
    assert "<Roses>" not in html


def test_a_plural_query_marks_the_singular_the_index_matched(client, search_index):
    BookFactory(title="A Game of Thrones", description="The first game of the series.")
    search_index()

    response = client.get("/search/", {"q": "games"})

    hit = response.context["result"].hits[0]
    assert str(hit.title_html) == "A <mark>Game</mark> of Thrones"
    assert str(hit.snippet_html) == "The first <mark>game</mark> of the series."


def test_on_phones_a_filters_button_opens_the_facets_with_the_count_they_will_show(client, indexed_shelf):
    response = client.get("/search/", {"q": "dune", "in_stock": "1"})

    html = response.content.decode()
    # Before the results (not after them), a button that opens the facets without JavaScript.
    button = html.index(
        '<button class="button button--quiet filters-button" type="button" popovertarget="search-filters">'
    )
    assert button < html.index('class="book-grid search-hits"')
    assert 'Filters <span class="filters-button__count">(1<span class="visually-hidden"> active</span>)</span>' in html
    assert '<aside class="search-facets" id="search-filters" popover aria-labelledby="refine-heading">' in html
    assert (
        '<button class="button search-facets__done" type="button" popovertarget="search-filters"'
        ' popovertargetaction="hide">Show 2 books</button>'
    ) in html


def test_the_filters_button_shows_on_phones_only():
    hidden, shown = css_rule_bodies(".filters-button")  # everywhere; then in @supports popovers / @media phones

    assert "display: none;" in hidden
    assert "display: inline-flex;" in shown
    assert "position: static;" in css_rule_bodies(".search-facets[popover]")[0]  # a sidebar on wide screens


def test_the_result_count_is_a_heading_that_announces_itself(client, indexed_shelf):
    html = client.get("/search/", {"q": "dune"}).content.decode()

    # role="status" on the h2 itself would make it a status instead of a heading (Lighthouse: heading-order).
    assert '<h2 class="listing-toolbar__count"><span role="status">1\N{EN DASH}3 of 3 books</span></h2>' in html
