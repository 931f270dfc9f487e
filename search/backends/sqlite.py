"""The SQLite backend (the embedded default): the same searches, facets and autocomplete, from querysets.

It keeps to what any database does: every word must appear (``icontains``) in the title,
subtitle or an author's name; exact and leading title matches first, then the most read;
facets from Django querysets, one ``GROUP BY`` per facet group. No typo tolerance and no
"did you mean".
"""

from __future__ import annotations

import functools
import operator
from datetime import date
from typing import Any

from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.db.models.functions import ExtractYear

from catalog.models import Book, BookAuthor
from catalog.selectors.pages import SORT_OPTIONS
from search.backends.database import (
    AUTHOR_FACET_SIZE,
    MAX_QUERY_WORDS,
    WORD,
    autocomplete_result,
    no_suggestions,
    query_words,
    roll_up_categories,
    search_result,
)
from search.facets import FacetCounts, subtree_ids
from search.params import (
    FACET_NAMES,
    PRICE_RANGES,
    PRICE_RANGES_BY_KEY,
    RATING_THRESHOLDS,
    SearchFilters,
    SearchSpec,
    page_info,
)
from search.results import AutocompleteResult, SearchResult


def search(spec: SearchSpec) -> SearchResult:
    """One page of results, facets and highlights for ``spec`` (see the module docstring)."""
    ids, counts, total = _search(spec)
    return search_result(spec, ids=ids, counts=counts, total=total, suggestion=None)


def autocomplete(*, prefix: str, limit: int, authors_limit: int) -> AutocompleteResult:
    """Titles and authors whose words contain every word typed."""
    words = query_words(prefix)
    if not words:
        return no_suggestions(prefix)
    books = Book.objects.filter(
        functools.reduce(
            operator.and_,
            [
                Q(title__icontains=word)
                | Q(pk__in=BookAuthor.objects.filter(author__name__icontains=word).values("book_id"))
                for word in words
            ],
        )
    )
    return autocomplete_result(prefix=prefix, words=words, books=books, limit=limit, authors_limit=authors_limit)


def _search(spec: SearchSpec) -> tuple[list[int], FacetCounts, int]:
    """The page of ids, every facet count and the total: Django querysets, one query per group of facets."""
    matching, score = _matching_books(spec)
    filtered = _apply_filters(matching, spec.filters)
    if spec.with_facets:
        counts, total = _facet_counts(matching, spec.filters)
    else:
        counts, total = FacetCounts(), filtered.count()
    ordered: QuerySet[Book]
    if score is not None and spec.sort.key == "relevance":
        ordered = filtered.annotate(score=score).order_by("-score", "-ratings_count", "id")
    elif spec.sort.key == "relevance":
        ordered = filtered.order_by(*SORT_OPTIONS["bestselling"].order_by)
    else:
        ordered = filtered.order_by(*spec.sort.order_by)
    page_info(spec, total)  # raises for a page past the end before fetching it
    return list(ordered.values_list("id", flat=True)[spec.offset : spec.offset + spec.page_size]), counts, total


def _matching_books(spec: SearchSpec) -> tuple[QuerySet[Book], Any]:
    """Books the query text matches (all books for an empty query) and a relevance expression."""
    books = Book.objects.all()
    if not spec.query:
        return books, None
    alternatives = []
    for variant in spec.variants:
        words = WORD.findall(variant)[:MAX_QUERY_WORDS]
        if not words:
            continue
        alternatives.append(
            functools.reduce(
                operator.and_,
                [
                    Q(title__icontains=word)
                    | Q(subtitle__icontains=word)
                    | Q(pk__in=BookAuthor.objects.filter(author__name__icontains=word).values("book_id"))
                    for word in words
                ],
            )
        )
    if spec.isbn:
        alternatives.append(Q(isbn13=spec.isbn))
    if not alternatives:
        return books.none(), None
    score = Case(
        When(isbn13=spec.isbn or "", then=Value(3)),
        When(title__iexact=spec.query, then=Value(2)),
        When(title__istartswith=spec.query, then=Value(1)),
        default=Value(0),
    )
    return books.filter(functools.reduce(operator.or_, alternatives)), score


def _apply_filters(books: QuerySet[Book], filters: SearchFilters, *, without: str | None = None) -> QuerySet[Book]:
    """``books`` narrowed by every active facet filter except the facet named ``without``."""
    if filters.category and without != "category":
        books = books.filter(category_id__in=subtree_ids(filters.category))
    if filters.authors and without != "author":
        books = books.filter(pk__in=BookAuthor.objects.filter(author__name__in=filters.authors).values("book_id"))
    if filters.prices and without != "price":
        books = books.filter(functools.reduce(operator.or_, [_price_q(key) for key in filters.prices]))
    if filters.min_rating and without != "rating":
        books = books.filter(average_rating__gte=filters.min_rating)
    if filters.in_stock and without != "in_stock":
        books = books.filter(inventory__stock_on_hand__gt=0)
    if filters.languages and without != "language":
        books = books.filter(language__in=filters.languages)
    if filters.decades and without != "decade":
        books = books.filter(
            functools.reduce(
                operator.or_,
                [
                    Q(publication_date__gte=date(d, 1, 1), publication_date__lt=date(d + 10, 1, 1))
                    for d in filters.decades
                ],
            )
        )
    return books


def _price_q(key: str) -> Q:
    bounds = PRICE_RANGES_BY_KEY[key]
    condition = Q()
    if bounds.low is not None:
        condition &= Q(price__gte=bounds.low)
    if bounds.high is not None:
        condition &= Q(price__lt=bounds.high)
    return condition


def _facet_counts(matching: QuerySet[Book], filters: SearchFilters) -> tuple[FacetCounts, int]:
    """Every facet's counts and the total, in as few queries as the active filters allow.

    Facets whose own filter is off all see the same filtered set, so they share one
    conditional-count query; a facet with an active filter gets its own.
    """
    active = {name for name, _ in filters.active()}
    groups: dict[str | None, list[str]] = {None: [name for name in FACET_NAMES if name not in active]}
    for name in FACET_NAMES:
        if name in active:
            groups[name] = [name]
    counts = FacetCounts()
    total = 0
    for without, names in groups.items():
        books = _apply_filters(matching, filters, without=without)
        scalars: dict[str, Any] = {}
        if without is None:
            scalars["total"] = Count("id")
        if "price" in names:
            scalars |= {f"price:{r.key}": Count("id", filter=_price_q(r.key)) for r in PRICE_RANGES}
        if "rating" in names:
            scalars |= {f"rating:{t}": Count("id", filter=Q(average_rating__gte=t)) for t in RATING_THRESHOLDS}
        if "in_stock" in names:
            scalars["in_stock"] = Count("id", filter=Q(inventory__stock_on_hand__gt=0))
        if scalars:
            row = books.aggregate(**scalars)
            total = row.get("total", total)
            counts.price |= {key.split(":", 1)[1]: value for key, value in row.items() if key.startswith("price:")}
            counts.rating |= {
                int(key.split(":", 1)[1]): value for key, value in row.items() if key.startswith("rating:")
            }
            counts.in_stock = row.get("in_stock", counts.in_stock)
        if "category" in names:
            counts.category = _category_counts(books)
        if "author" in names:
            counts.author = [
                (name, count)
                for name, count in BookAuthor.objects.filter(book__in=books.values("pk"))
                .values_list("author__name")
                .annotate(count=Count("book_id"))
                .order_by("-count", "author__name")[:AUTHOR_FACET_SIZE]
            ]
        if "language" in names:
            counts.language = dict(books.order_by().values_list("language").annotate(count=Count("id")))
        if "decade" in names:
            decades: dict[int, int] = {}
            per_year = (
                books.exclude(publication_date=None)
                .order_by()
                .annotate(year=ExtractYear("publication_date"))
                .values_list("year")
                .annotate(count=Count("id"))
            )
            for year, count in per_year:
                decades[int(year) // 10 * 10] = decades.get(int(year) // 10 * 10, 0) + count
            counts.decade = decades
    return counts, total


def _category_counts(books: QuerySet[Book]) -> dict[str, int]:
    """Books per category path, each category counting its whole subtree."""
    per_category = books.exclude(category=None).order_by().values_list("category_id").annotate(n=Count("id"))
    return roll_up_categories(dict(per_category))
