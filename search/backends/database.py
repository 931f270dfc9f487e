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
        facets=build_facets(counts, spec.filters) if spec.with_facets else [],
        backend="database",
        suggestion=suggestion,
    )


def no_suggestions(prefix: str) -> AutocompleteResult:
    """The autocomplete answer for text without a word in it."""
    return AutocompleteResult(prefix=prefix, titles=[], authors=[], backend="database")


def _starts_words(typed: list[str], name: str) -> bool:
    """Whether every typed word starts a word of ``name`` (case ignored)."""
    words = [word.lower() for word in WORD.findall(name)]
    return all(any(word.startswith(part) for word in words) for part in typed)


def autocomplete_result(
    *, prefix: str, words: list[str], books: QuerySet[Book], limit: int, authors_limit: int
) -> AutocompleteResult:
    """The most read of ``books`` as title suggestions (one per title) and authors whose name starts so.

    Authors: first those of the suggested books whose name every typed word starts, the
    most read first (the suggestions are in that order), then others by name.
    """
    found = list(books.order_by("-ratings_count", "id").values_list("id", "title", "isbn13", "slug")[: limit * 2])
    names: dict[int, list[tuple[str, str]]] = {}
    for book_id, name, slug in (
        BookAuthor.objects.filter(book_id__in=[row[0] for row in found])
        .order_by("book_id", "position")
        .values_list("book_id", "author__name", "author__slug")
    ):
        names.setdefault(book_id, []).append((name, slug))
    titles: list[TitleSuggestion] = []
    seen: set[str] = set()
    authors: dict[str, AuthorSuggestion] = {}
    for book_id, title, isbn13, slug in found:
        for name, author_slug in names.get(book_id, []):
            if name not in authors and len(authors) < authors_limit and _starts_words(words, name):
                authors[name] = AuthorSuggestion(name=name, url=reverse("catalog:author", kwargs={"slug": author_slug}))
        if title.lower() in seen or len(titles) >= limit:
            continue
        seen.add(title.lower())
        url = reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug})
        titles.append(TitleSuggestion(title=title, authors=[name for name, _ in names.get(book_id, [])], url=url))
    if len(authors) < authors_limit:
        typed = " ".join(words)
        for name, slug in (
            Author.objects.filter(Q(name__istartswith=typed) | Q(name__icontains=f" {typed}"))
            .exclude(name__in=list(authors))
            .order_by("name")
            .values_list("name", "slug")[: authors_limit - len(authors)]
        ):
            authors[name] = AuthorSuggestion(name=name, url=reverse("catalog:author", kwargs={"slug": slug}))
    return AutocompleteResult(prefix=prefix, titles=titles, authors=list(authors.values()), backend="database")
