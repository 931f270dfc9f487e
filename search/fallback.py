"""The database fallback: the same searches, facets and autocomplete, answered by SQL.

Used when OpenSearch is not configured (the embedded default), forced off, or failing
(the circuit breaker is open). It is a degraded mode, not a second engine, so it keeps to
what SQL does well:

* **Postgres**: the query and its synonym variants as ``websearch_to_tsquery`` against
  ``BookSearchDocument.search_vector`` (title A > subtitle and authors B > description,
  category and tags C; GIN index), ranked by ``ts_rank`` with those weights, an exact
  title or ISBN first, mildly boosted by popularity and rating like the OpenSearch query.
  Only when that finds nothing does it retry word by word with pg_trgm word similarity
  (trigram GIN index), which forgives typos — the same two-step as OpenSearch. "Did you
  mean" is then the most similar title. The page of ids, the total and every facet come
  from **one statement**: the match runs once into a ``MATERIALIZED`` CTE, and each facet
  is counted from it with every other facet's filters. A broad match (thousands of books)
  keeps its ids and counts in the cache for a minute; cards are always read fresh.
* **SQLite** (the embedded default): every word must appear (``icontains``) in the
  title, subtitle or an author's name; exact and leading title matches first, then
  popularity; facets from Django querysets, one ``GROUP BY`` per facet group.

Hits and facets come back in the same dataclasses as OpenSearch's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import operator
import re
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import SearchQuery, SearchRank, TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Case, Count, ExpressionWrapper, F, FloatField, Q, QuerySet, Value, When
from django.db.models.functions import Cast, ExtractYear, Ln
from django.urls import reverse

from catalog.models import Author, Book, BookAuthor
from catalog.selectors import SORT_OPTIONS, books_in_order
from search.facets import FacetCounts, build_facets, category_tree, subtree_ids
from search.models import BookSearchDocument
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
# A fallback search whose words match this many books (a common word, or browsing with no
# query) costs a few hundred milliseconds on 100,000 books; its ids and counts are kept this long.
BROAD_MATCH = 5000
BROAD_MATCH_CACHE_SECONDS = 60
TYPO_SIMILARITY = 0.5
_WORD = re.compile(r"\w+", re.UNICODE)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- Search -----------------------------------------------------------------------------


def search(spec: SearchSpec) -> SearchResult:
    """One page of results, facets and highlights for ``spec`` (see the module docstring)."""
    if _is_postgres():
        key = _broad_search_key(spec)
        cached = cache.get(key)
        if cached is not None:
            ids, counts, total, matched = cached
        else:
            ids, counts, total, matched = _postgres_search(spec, typo_tolerant=False)
            if matched == 0 and spec.query:
                # No book has every word: try again with trigram similarity, word by word.
                ids, counts, total, matched = _postgres_search(spec, typo_tolerant=True)
            if matched >= BROAD_MATCH:
                cache.set(key, (ids, counts, total, matched), BROAD_MATCH_CACHE_SECONDS)
    else:
        ids, counts, total = _orm_search(spec)
        matched = total
    page = page_info(spec, total)
    words = highlight_words(spec.variants)
    hits = [
        SearchHit(book=book, title_html=highlight(book.title, words), snippet_html=snippet(book.description, words))
        for book in books_in_order(ids)
    ]
    # Only when the words themselves match nothing (not when the filters empty the page).
    suggestion = _did_you_mean(spec) if matched == 0 and spec.query and _is_postgres() else None
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


def _broad_search_key(spec: SearchSpec) -> str:
    """The cache key of a fallback search's ids and counts (not its cards: prices and stock stay live)."""
    state = repr((spec.variants, spec.isbn, spec.filters, spec.sort.key, spec.page, spec.page_size))
    return f"search:fallback:v1:{hashlib.sha256(state.encode()).hexdigest()[:32]}"


def _orm_search(spec: SearchSpec) -> tuple[list[int], FacetCounts, int]:
    """The portable path (SQLite): Django querysets, one query per group of facets."""
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
    page_info(spec, total)  # raises for a page past the end before fetching it
    return list(ordered.values_list("id", flat=True)[spec.offset : spec.offset + spec.page_size]), counts, total


# --- Postgres: everything in one statement ----------------------------------------------------

# The ORDER BY of each sort over the matched rows (the same orders as the catalog's indexes).
_PG_ORDER = {
    "price": "m.price, m.id",
    "price-desc": "m.price DESC, m.id DESC",
    "rating": "m.average_rating DESC, m.ratings_count DESC, m.id",
    "newest": "m.publication_sort_date DESC, m.id",
}


def _pg_match(spec: SearchSpec, *, typo_tolerant: bool) -> tuple[str, list[Any], str, list[Any]]:
    """``(WHERE sql, params, score sql, params)`` of the text match over the search rows ``d``."""
    if not spec.query:
        return "TRUE", [], "0.0", []
    if typo_tolerant:
        words = [word.lower() for word in _WORD.findall(spec.query)][:MAX_QUERY_WORDS]
        if not words:
            # Only punctuation ("*", "\\"): nothing to match, and the raw text must never
            # reach the regular expressions below.
            return "FALSE", [], "0.0", []
        # Words of 4+ letters may be misspelt (trigram word similarity, GIN-indexed);
        # shorter ones must start a word.
        parts = ["d.search_text %%> %s" if len(word) >= 4 else "d.search_text ~ %s" for word in words]
        where, where_params = " AND ".join(parts), [w if len(w) >= 4 else rf"\m{w}" for w in words]
        score, score_params = "word_similarity(%s, d.search_text)", [spec.query.lower()]
    else:
        tsquery = " || ".join(["websearch_to_tsquery('english', %s)"] * len(spec.variants))
        where, where_params = f"d.search_vector @@ ({tsquery})", list(spec.variants)
        # Normalisation 1 (divide by 1 + log length) keeps the rank from saturating at 1.0,
        # where every book mentioning the words in several places would tie.
        score = f"ts_rank('{{0.1,0.2,0.4,1.0}}', d.search_vector, ({tsquery}), 1)"
        score_params = list(spec.variants)
    score += " + CASE WHEN LOWER(d.title) = LOWER(%s) THEN 10 ELSE 0 END"
    score_params.append(spec.query)
    if spec.isbn:
        where = f"(({where}) OR d.isbn13 = %s)"
        where_params.append(spec.isbn)
        score += " + CASE WHEN d.isbn13 = %s THEN 100 ELSE 0 END"
        score_params.append(spec.isbn)
    boost = "(1 + 0.02 * LN(d.popularity + 1) + 0.04 * d.average_rating)"
    return where, where_params, f"({score}) * {boost}", score_params


def _pg_filters(filters: SearchFilters, *, without: str | None = None) -> tuple[str, list[Any]]:
    """The facet filters over the matched rows ``m``, except the facet named ``without``."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.category and without != "category":
        clauses.append("m.category_id = ANY(%s)")
        params.append(subtree_ids(filters.category))
    if filters.authors and without != "author":
        clauses.append("JSONB_EXISTS_ANY(m.author_names, %s)")
        params.append(list(filters.authors))
    if filters.prices and without != "price":
        ranges = []
        for key in filters.prices:
            bounds = PRICE_RANGES_BY_KEY[key]
            limits = []
            if bounds.low is not None:
                limits.append("m.price >= %s")
                params.append(bounds.low)
            if bounds.high is not None:
                limits.append("m.price < %s")
                params.append(bounds.high)
            ranges.append(f"({' AND '.join(limits)})")
        clauses.append(f"({' OR '.join(ranges)})")
    if filters.min_rating and without != "rating":
        clauses.append("m.average_rating >= %s")
        params.append(filters.min_rating)
    if filters.in_stock and without != "in_stock":
        clauses.append("m.in_stock")
    if filters.languages and without != "language":
        clauses.append("m.language = ANY(%s)")
        params.append(list(filters.languages))
    if filters.decades and without != "decade":
        decade_range = "(m.publication_date >= %s AND m.publication_date < %s)"
        clauses.append(f"({' OR '.join([decade_range] * len(filters.decades))})")
        for decade in filters.decades:
            params += [date(decade, 1, 1), date(decade + 10, 1, 1)]
    return " AND ".join(clauses) or "TRUE", params


def _postgres_search(spec: SearchSpec, *, typo_tolerant: bool) -> tuple[list[int], FacetCounts, int, int]:
    """The page of ids, every facet count, the total and the books the words match (unfiltered), in one statement.

    The text match runs once, over the search rows alone (no join to the catalog), into a
    ``MATERIALIZED`` CTE of the matched books' facet columns; the hits, the total and each
    facet (with every other facet's filters) are then computed from those rows. Counting
    facets with one query each would repeat the match seven times, which costs seconds for
    a common word on 100,000 books.
    """
    rows = connection.ops.quote_name(BookSearchDocument._meta.db_table)
    where, where_params, score, score_params = _pg_match(spec, typo_tolerant=typo_tolerant)
    if spec.sort.key == "relevance":
        order = "m.score DESC, m.popularity DESC, m.id" if spec.query else "m.popularity DESC, m.id"
    else:
        order = _PG_ORDER[spec.sort.key]
    params: list[Any] = [*score_params, *where_params]
    sql = [
        f"""WITH m AS MATERIALIZED (
            SELECT d.book_id AS id, d.category_id, d.price, d.average_rating, d.ratings_count, d.popularity,
                   d.language, d.publication_date, COALESCE(d.publication_sort_date, DATE '0001-01-01')
                   AS publication_sort_date, d.is_in_stock AS in_stock, d.author_names, {score} AS score
            FROM {rows} d
            WHERE {where})"""
    ]
    every, every_params = _pg_filters(spec.filters)
    sql.append(
        f"(SELECT 'hit', m.id::text, ROW_NUMBER() OVER (ORDER BY {order}) FROM m WHERE {every} "
        f"ORDER BY {order} LIMIT %s OFFSET %s)"
    )
    params += [*every_params, spec.page_size, spec.offset]
    sql.append(f"(SELECT 'total', '', COUNT(*) FROM m WHERE {every})")
    params += every_params
    sql.append("(SELECT 'matched', '', COUNT(*) FROM m)")
    facet_sql = {
        "category": "SELECT 'category', m.category_id::text, COUNT(*) FROM m WHERE {w} GROUP BY m.category_id",
        "author": (
            "SELECT 'author', a.name, COUNT(*) FROM m CROSS JOIN LATERAL JSONB_ARRAY_ELEMENTS_TEXT(m.author_names) "
            f"AS a(name) WHERE {{w}} GROUP BY a.name ORDER BY COUNT(*) DESC, a.name LIMIT {AUTHOR_FACET_SIZE}"
        ),
        # One pass with a conditional count per bucket, spread into rows. The bounds and keys
        # are constants of search.params, not input, so they are written into the SQL.
        "price": _buckets_sql("price", [(r.key, _price_range_sql(r.low, r.high)) for r in PRICE_RANGES]),
        "rating": _buckets_sql("rating", [(str(t), f"m.average_rating >= {int(t)}") for t in RATING_THRESHOLDS]),
        "in_stock": "SELECT 'in_stock', '1', COUNT(*) FROM m WHERE {w} AND m.in_stock",
        "language": "SELECT 'language', m.language, COUNT(*) FROM m WHERE {w} GROUP BY m.language",
        "decade": (
            "SELECT 'decade', (EXTRACT(YEAR FROM m.publication_date)::int / 10 * 10)::text, COUNT(*) FROM m "
            "WHERE {w} AND m.publication_date IS NOT NULL GROUP BY 2"
        ),
    }
    for name in FACET_NAMES:
        condition, condition_params = _pg_filters(spec.filters, without=name)
        sql.append(f"({facet_sql[name].format(w=condition)})")
        params += condition_params
    # A transaction only where SET LOCAL needs one.
    with transaction.atomic() if typo_tolerant else contextlib.nullcontext(), connection.cursor() as cursor:
        if typo_tolerant:
            # A little looser than pg_trgm's default 0.6, for this statement only: one
            # dropped letter in a six-letter word ("physcs") scores 0.57.
            cursor.execute(f"SET LOCAL pg_trgm.word_similarity_threshold = {TYPO_SIMILARITY}")
        cursor.execute(sql[0] + "\n" + "\nUNION ALL ".join(sql[1:]), params)
        results = cursor.fetchall()
    hits = sorted((int(position), int(key)) for facet, key, position in results if facet == "hit")
    counts = FacetCounts()
    total = matched = 0
    categories: dict[int, int] = {}
    for facet, key, count in results:
        if facet == "total":
            total = int(count)
        elif facet == "matched":
            matched = int(count)
        elif facet == "category" and key is not None:
            categories[int(key)] = int(count)
        elif facet == "author":
            counts.author.append((key, int(count)))
        elif facet == "price":
            counts.price[key] = int(count)
        elif facet == "rating":
            counts.rating[int(key)] = int(count)
        elif facet == "in_stock":
            counts.in_stock = int(count)
        elif facet == "language":
            counts.language[key] = int(count)
        elif facet == "decade":
            counts.decade[int(key)] = int(count)
    counts.category = _roll_up_categories(categories)
    return [book_id for _, book_id in hits], counts, total, matched


def _price_range_sql(low: Decimal | None, high: Decimal | None) -> str:
    limits = []
    if low is not None:
        limits.append(f"m.price >= {Decimal(low)}")
    if high is not None:
        limits.append(f"m.price < {Decimal(high)}")
    return " AND ".join(limits)


def _buckets_sql(facet: str, buckets: list[tuple[str, str]]) -> str:
    """``(facet, key, count)`` rows for conditional buckets, counted in one pass over ``m``."""
    counts = ", ".join(f"COUNT(*) FILTER (WHERE {where}) AS c{index}" for index, (_, where) in enumerate(buckets))
    rows = ", ".join(f"('{key}', s.c{index})" for index, (key, _) in enumerate(buckets))
    return (
        f"SELECT '{facet}', v.key, v.n FROM (SELECT {counts} FROM m WHERE {{w}}) AS s "
        f"CROSS JOIN LATERAL (VALUES {rows}) AS v(key, n)"
    )


def _roll_up_categories(per_category: dict[int, int]) -> dict[str, int]:
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


# --- The portable path (SQLite) ---------------------------------------------------------------


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
    per_category = books.exclude(category=None).order_by().values_list("category_id").annotate(n=Count("id"))
    return _roll_up_categories(dict(per_category))


def _did_you_mean(spec: SearchSpec) -> str | None:
    """The title most similar to the query (trigram word similarity ≥ 0.3), or None."""
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
