"""What the two database backends (``postgres``, ``sqlite``) share: words, category roll-up, answers.

Both are a degraded mode, not a second engine (see each module): they read the words of
the query the same way, count categories over whole subtrees the same way, and turn the
ids they found into the same ``SearchResult`` and ``AutocompleteResult``.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from django.urls import reverse

from catalog.models import Author, Book, BookAuthor
from catalog.selectors.pages import books_in_order
from search.facets import FacetCounts, build_facets, category_tree
from search.params import SearchSpec, page_info
from search.results import (
    AuthorSuggestion,
    AutocompleteResult,
    SearchHit,
    SearchResult,
    TitleSuggestion,
    highlight,
    highlight_words,
    snippet,
)

MAX_QUERY_WORDS = 8
AUTHOR_FACET_SIZE = 10
WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The first ``MAX_QUERY_WORDS`` words of ``text``, lower-cased (punctuation never reaches SQL)."""
    return [word.lower() for word in WORD.findall(text)][:MAX_QUERY_WORDS]


def roll_up_categories(per_category: dict[int, int]) -> dict[str, int]:
    """Books per category path, each category counting its whole subtree."""
    paths = {node.id: node.path for node in category_tree().values()}
    totals: dict[str, int] = {}
    for category_id, count in per_category.items():
        path = paths.get(category_id)
        if path is None:
            continue
        parts = path.split("/")
        for depth in range(len(parts)):
            prefix = "/".join(parts[: depth + 1])
            totals[prefix] = totals.get(prefix, 0) + count
    return totals


def search_result(
    spec: SearchSpec, *, ids: list[int], counts: FacetCounts, total: int, suggestion: str | None
) -> SearchResult:
    """The page of ``ids`` as cards highlighted in Python, with the facets of ``counts``.

    Raises ``SearchPageOutOfRange`` for a page past the end before reading any card.
    """
    page = page_info(spec, total)
    words = highlight_words(spec.variants)
    hits = [
        SearchHit(book=book, title_html=highlight(book.title, words), snippet_html=snippet(book.description, words))
        for book in books_in_order(ids)
    ]
    return SearchResult(
        query=spec.query,
        filters=spec.filters,
        sort=spec.sort,
        hits=hits,
        page=page,
        facets=build_facets(counts, spec.filters),
        backend="database",
        suggestion=suggestion,
    )


def no_suggestions(prefix: str) -> AutocompleteResult:
    """The autocomplete answer for text without a word in it."""
    return AutocompleteResult(prefix=prefix, titles=[], authors=[], backend="database")


def autocomplete_result(
    *, prefix: str, words: list[str], books: QuerySet[Book], limit: int, authors_limit: int
) -> AutocompleteResult:
    """The most popular of ``books`` as title suggestions (one per title) and authors whose name starts so."""
    found = list(books.order_by("-popularity", "id").values_list("id", "title", "isbn13", "slug")[: limit * 2])
    names: dict[int, list[str]] = {}
    for book_id, name in (
        BookAuthor.objects.filter(book_id__in=[row[0] for row in found])
        .order_by("book_id", "position")
        .values_list("book_id", "author__name")
    ):
        names.setdefault(book_id, []).append(name)
    titles: list[TitleSuggestion] = []
    seen: set[str] = set()
    for book_id, title, isbn13, slug in found:
        if title.lower() in seen or len(titles) >= limit:
            continue
        seen.add(title.lower())
        url = reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug})
        titles.append(TitleSuggestion(title=title, authors=names.get(book_id, []), url=url))
    typed = " ".join(words)
    authors = [
        AuthorSuggestion(name=name, url=reverse("catalog:author", kwargs={"slug": slug}))
        for name, slug in Author.objects.filter(Q(name__istartswith=typed) | Q(name__icontains=f" {typed}"))
        .order_by("name")
        .values_list("name", "slug")[:authors_limit]
    ]
    return AutocompleteResult(prefix=prefix, titles=titles, authors=authors, backend="database")
