"""The database fallback: the same searches, facets and autocomplete, answered by SQL.

Used when OpenSearch is not configured (the embedded default), forced off, or failing
(the circuit breaker is open). It is a degraded mode, not a second engine, so it keeps to
what SQL does well:

* **Postgres**: the query (and its synonym variants) as ``websearch_to_tsquery`` against
  ``BookSearchDocument.search_vector`` (title A > authors B > description/category/tags
  C, GIN index), OR'd with pg_trgm word similarity on title and authors (trigram GIN
  index) so a typo still finds the book. Ranked by ``ts_rank`` with those weights plus
  trigram similarity, an exact title or ISBN first, mildly boosted by popularity and
  rating like the OpenSearch query. "Did you mean" is the most similar title.
* **SQLite**: every word must appear (``icontains``) in the title, subtitle or an
  author's name; exact and leading title matches first, then popularity.

Facet counts come from the same filtered querysets with ``GROUP BY`` and conditional
counts, each facet counted with every other facet's filters but not its own, exactly as
the OpenSearch aggregations do. Hits and cards are the same dataclasses.
"""

from __future__ import annotations

import functools
import operator
import re
from datetime import date
from typing import Any

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import Case, Count, ExpressionWrapper, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Cast, ExtractYear, Ln
from django.urls import reverse

from catalog.models import Author, Book, BookAuthor
from catalog.selectors import SORT_OPTIONS, books_in_order
from search.facets import FacetCounts, build_facets, category_tree, subtree_ids
from search.params import (
    FACET_NAMES,
    PRICE_RANGES,
    PRICE_RANGES_BY_KEY,
    RATING_THRESHOLDS,
    SearchFilters,
    SearchSpec,
    page_info,
)
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
_WORD = re.compile(r"\w+", re.UNICODE)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- Search -----------------------------------------------------------------------------


def search(spec: SearchSpec) -> SearchResult:
    """One page of results, facets and highlights for ``spec`` (see the module docstring)."""
    matching, score = _matching_books(spec)
    counts, total = _facet_counts(matching, spec.filters)
    filtered = _apply_filters(matching, spec.filters)
    ordered: QuerySet[Book]
    if score is not None and spec.sort.key == "relevance":
        ordered = filtered.annotate(score=score).order_by("-score", "-popularity", "id")
    elif spec.sort.key == "relevance":
        ordered = filtered.order_by(*SORT_OPTIONS["bestselling"].order_by)
    else:
        ordered = filtered.order_by(*spec.sort.order_by)
    page = page_info(spec, total)
    ids = list(ordered.values_list("id", flat=True)[spec.offset : spec.offset + spec.page_size])
    words = highlight_words(spec.variants)
    hits = [
        SearchHit(book=book, title_html=highlight(book.title, words), snippet_html=snippet(book.description, words))
        for book in books_in_order(ids)
    ]
    suggestion = _did_you_mean(spec) if total == 0 and spec.query and _is_postgres() else None
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


def _matching_books(spec: SearchSpec) -> tuple[QuerySet[Book], Any]:
    """Books the query text matches (all books for an empty query) and a relevance expression."""
    books = Book.objects.all()
    if not spec.query:
        return books, None
    if _is_postgres():
        return _postgres_matching(books, spec)
    return _sqlite_matching(books, spec)


def _postgres_matching(books: QuerySet[Book], spec: SearchSpec) -> tuple[QuerySet[Book], Any]:
    tsquery = functools.reduce(
        operator.or_, [SearchQuery(variant, search_type="websearch", config="english") for variant in spec.variants]
    )
    text = spec.query.lower()
    condition = Q(search_document__search_vector=tsquery) | Q(
        TrigramWordSimilar(F("search_document__search_text"), Value(text))
    )
    exact_bonus = [When(title__iexact=spec.query, then=Value(10.0))]
    if spec.isbn:
        condition |= Q(isbn13=spec.isbn)
        exact_bonus.insert(0, When(isbn13=spec.isbn, then=Value(100.0)))
    text_score = (
        SearchRank(F("search_document__search_vector"), tsquery, weights=[0.1, 0.2, 0.4, 1.0])
        + TrigramWordSimilarity(text, F("search_document__search_text")) * Value(0.3)
        + Case(*exact_bonus, default=Value(0.0), output_field=FloatField())
    )
    boost = (
        Value(1.0)
        + Value(0.02) * Ln(Cast(F("popularity"), FloatField()) + Value(1.0))
        + Value(0.04) * Cast(F("average_rating"), FloatField())
    )
    return books.filter(condition), ExpressionWrapper(text_score * boost, output_field=FloatField())


def _sqlite_matching(books: QuerySet[Book], spec: SearchSpec) -> tuple[QuerySet[Book], Any]:
    alternatives = []
    for variant in spec.variants:
        words = _WORD.findall(variant)[:MAX_QUERY_WORDS]
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
    paths = {node.id: node.path for node in category_tree().values()}
    totals: dict[str, int] = {}
    for category_id, count in (
        books.exclude(category=None).order_by().values_list("category_id").annotate(n=Count("id"))
    ):
        path = paths.get(category_id)
        if path is None:
            continue
        parts = path.split("/")
        for depth in range(len(parts)):
            prefix = "/".join(parts[: depth + 1])
            totals[prefix] = totals.get(prefix, 0) + count
    return totals


def _did_you_mean(spec: SearchSpec) -> str | None:
    """The title most similar to the query (trigram word similarity ≥ 0.3), or None."""
    from search.models import BookSearchDocument

    text = spec.query.lower()
    with transaction.atomic(), connection.cursor() as cursor:
        # Looser than the 0.6 the search itself used, for this one statement only.
        cursor.execute("SET LOCAL pg_trgm.word_similarity_threshold = 0.3")
        title = (
            BookSearchDocument.objects.filter(TrigramWordSimilar(F("search_text"), Value(text)))
            .annotate(similarity=TrigramWordSimilarity(text, F("search_text")))
            .order_by("-similarity", "-book__popularity")
            .values_list("book__title", flat=True)
            .first()
        )
    return title.lower() if title and title.lower() != text else None


# --- Autocomplete -----------------------------------------------------------------------


def autocomplete(*, prefix: str, limit: int, authors_limit: int) -> AutocompleteResult:
    """Titles and authors that match what has been typed, from the database."""
    words = [word.lower() for word in _WORD.findall(prefix)][:MAX_QUERY_WORDS]
    if not words:
        return AutocompleteResult(prefix=prefix, titles=[], authors=[], backend="database")
    if _is_postgres():
        # Every word starts a word of the title or an author's name (``\m``: start of a
        # word). The trigram GIN index on ``search_text`` serves these regular expressions.
        books = Book.objects.filter(
            functools.reduce(operator.and_, [Q(search_document__search_text__regex=rf"\m{word}") for word in words])
        )
    else:
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
