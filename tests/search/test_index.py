"""The books index itself: its analyzers on the real node, and the cleanup of unused indices."""

import pytest
from django.core.management import call_command

from search.client import bulk_client
from search.documents import alias_name
from search.engine import search_books

pytestmark = pytest.mark.django_db


def tokens(field: str, text: str) -> list[str]:
    analyzed = bulk_client().indices.analyze(index=alias_name(), body={"field": field, "text": text})
    return [token["token"] for token in analyzed["tokens"]]


def test_titles_are_stemmed_and_accent_folded(indexed_shelf):
    assert tokens("title", "The Dragons' Cafés") == ["dragon", "cafe"]


def test_autocomplete_fields_hold_edge_ngrams_and_search_with_whole_words(indexed_shelf):
    assert tokens("title.autocomplete", "Dune") == ["d", "du", "dun", "dune"]
    analyzed = bulk_client().indices.analyze(
        index=alias_name(), body={"analyzer": "autocomplete_search", "text": "Dun Herb"}
    )
    assert [token["token"] for token in analyzed["tokens"]] == ["dun", "herb"]


def test_the_exact_title_is_one_normalised_term(indexed_shelf):
    assert tokens("title.exact", "The Hobbit") == ["the hobbit"]


def test_stemming_and_accent_folding_reach_the_results(indexed_shelf):
    assert search_books(query="dragons").books[0].title == "The Hobbit"  # "dragon's treasure"
    assert [book.title for book in search_books(query="mathematicien").books] == ["Fondation"]  # "mathématicien"


def test_cleanup_deletes_indices_the_alias_does_not_use(indexed_shelf, capsys):
    client = bulk_client()
    old = f"{alias_name()}-19990101000000000000"  # as a rebuild with --keep-old leaves behind
    client.indices.create(index=old)

    call_command("search_index", "--cleanup")

    assert not client.indices.exists(index=old)
    assert client.indices.exists_alias(name=alias_name())
    assert old in capsys.readouterr().out
