"""Relevance against a real OpenSearch index: the right book first for what shoppers type."""

import pytest

from search.engine import search_books
from search.models import Synonym

pytestmark = pytest.mark.django_db


def top_titles(query: str, count: int = 3) -> list[str]:
    result = search_books(query=query)
    assert result.backend == "opensearch"
    return [book.title for book in result.books[:count]]


def test_a_title_query_puts_that_book_first(indexed_shelf):
    assert top_titles("the hobbit", 1) == ["The Hobbit"]


def test_an_exact_title_ranks_above_more_popular_partial_matches(indexed_shelf):
    # "The Emma Press Anthology of Love" is far more popular and better rated.
    assert top_titles("emma", 2) == ["Emma", "The Emma Press Anthology of Love"]


def test_an_exact_title_ranks_first_among_books_sharing_its_words(indexed_shelf):
    assert top_titles("dune") == ["Dune", "Dune Messiah", "Children of Dune"]


def test_an_isbn_finds_its_book_first_with_or_without_hyphens(indexed_shelf):
    isbn = indexed_shelf.neuromancer.isbn13
    hyphenated = f"{isbn[:3]}-{isbn[3]}-{isbn[4:7]}-{isbn[7:12]}-{isbn[12]}"

    assert top_titles(isbn, 1) == ["Neuromancer"]
    assert top_titles(hyphenated, 1) == ["Neuromancer"]


def test_an_author_query_finds_the_authors_books(indexed_shelf):
    assert set(top_titles("herbert")) == {"Dune", "Dune Messiah", "Children of Dune"}


def test_words_may_come_from_title_and_author_together(indexed_shelf):
    assert top_titles("tolkien hobbit", 1) == ["The Hobbit"]


def test_a_partial_word_finds_the_book(indexed_shelf):
    assert top_titles("neurom", 1) == ["Neuromancer"]
    assert top_titles("fellowship of the ri", 1) == ["The Fellowship of the Ring"]


def test_a_misspelled_title_still_finds_the_book(indexed_shelf):
    assert top_titles("neuromacer", 1) == ["Neuromancer"]
    assert top_titles("the hobit", 1) == ["The Hobbit"]


def test_a_transposed_author_name_still_finds_the_author(indexed_shelf):
    assert set(top_titles("tolkein", 2)) == {"The Hobbit", "The Fellowship of the Ring"}


def test_look_alike_words_do_not_pad_an_exact_match(indexed_shelf):
    # "june" is one letter from "dune" and far more popular; exact matches exist, so no fuzziness.
    result = search_books(query="dune")

    assert [book.title for book in result.books] == ["Dune", "Dune Messiah", "Children of Dune"]
    assert result.total == 3


def test_typos_are_forgiven_from_four_letters(indexed_shelf):
    assert "Emma" in top_titles("emmx")  # 4 letters: one edit allowed
    assert search_books(query="emx").total == 0  # 3 letters: none


def test_a_synonym_finds_books_that_use_the_other_term(indexed_shelf):
    assert "Dune" not in top_titles("sci-fi", 10)

    Synonym.objects.create(terms="sci-fi, science fiction")

    assert top_titles("sci-fi history", 1) == ["A History of Science Fiction"]
    assert "Dune" in top_titles("sci-fi", 10)  # its category is Science Fiction


def test_a_synonym_works_in_both_directions(indexed_shelf):
    Synonym.objects.create(terms="ya, young adult")

    assert top_titles("ya", 1) == ["The Hunger Games"]
    assert top_titles("young adult dystopian", 1) == ["The Hunger Games"]


def test_an_inactive_synonym_is_ignored(indexed_shelf):
    Synonym.objects.create(terms="ya, young adult", is_active=False)

    assert search_books(query="ya").total == 0


def test_an_empty_query_lists_every_book_most_popular_first(indexed_shelf):
    result = search_books(query="")

    assert result.total == len(indexed_shelf.books)
    assert result.books[0].title == "The Emma Press Anthology of Love"
