"""The Postgres backend: the same searches, facets and autocomplete as OpenSearch, answered by SQL.

Used when OpenSearch is not configured, forced off, or failing (the circuit breaker is
open), on Postgres. It is a degraded mode, not a second engine, so it keeps to what SQL
does well: the query and its synonym variants as ``websearch_to_tsquery`` against
``BookSearchDocument.search_vector`` (title A > subtitle and authors B > description,
category and tags C; GIN index), ranked by ``ts_rank`` with those weights, an exact title
or ISBN first, mildly boosted by popularity and rating like the OpenSearch query. Only
when that finds nothing does it retry word by word with pg_trgm word similarity (trigram
GIN index), which forgives typos — the same two-step as OpenSearch. "Did you mean" is
then the most similar title. The page of ids, the total and every facet come from **one
statement**: the match runs once into a ``MATERIALIZED`` CTE, and each facet is counted
from it with every other facet's filters. A broad match (thousands of books) keeps its ids
and counts in the cache for a minute; cards are always read fresh.
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

from django.conf import settings
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import TrigramWordSimilarity
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q, Value

from catalog.models import Book
from search import ranking
from search.backends.database import (
    AUTHOR_FACET_SIZE,
    MAX_QUERY_WORDS,
    autocomplete_result,
    no_suggestions,
    query_words,
    roll_up_categories,
    search_result,
)
from search.facets import FacetCounts, subtree_ids
from search.models import BookSearchDocument
from search.params import (
    FACET_NAMES,
    PRICE_RANGES,
    PRICE_RANGES_BY_KEY,
    RATING_THRESHOLDS,
    SearchFilters,
    SearchSpec,
)
from search.results import AutocompleteResult, SearchResult

# A search whose words match this many books (a common word, or browsing with no query)
# costs a few hundred milliseconds on 100,000 books; its ids and counts are kept this long.
BROAD_MATCH = 5000
BROAD_MATCH_CACHE_SECONDS = 60
TYPO_SIMILARITY = 0.5


def search(spec: SearchSpec) -> SearchResult:
    """One page of results, facets and highlights for ``spec`` (see the module docstring)."""
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
    # Only when the words themselves match nothing (not when the filters empty the page).
    suggestion = _did_you_mean(spec) if matched == 0 and spec.query else None
    return search_result(spec, ids=ids, counts=counts, total=total, suggestion=suggestion)


def autocomplete(*, prefix: str, limit: int, authors_limit: int) -> AutocompleteResult:
    """Titles and authors where every word typed starts a word of the title or an author's name."""
    words = query_words(prefix)
    if not words:
        return no_suggestions(prefix)
    # ``\m``: start of a word. The trigram GIN index on ``search_text`` serves these regular expressions.
    books = Book.objects.filter(
        functools.reduce(operator.and_, [Q(search_document__search_text__regex=rf"\m{word}") for word in words])
    )
    return autocomplete_result(prefix=prefix, words=words, books=books, limit=limit, authors_limit=authors_limit)


def _broad_search_key(spec: SearchSpec) -> str:
    """The cache key of a fallback search's ids and counts (not its cards: prices and stock stay live)."""
    state = repr(
        (
            ranking.RANKING_VERSION,
            spec.variants,
            spec.isbn,
            spec.filters,
            spec.sort.key,
            spec.page,
            spec.page_size,
            spec.with_facets,
        )
    )
    return f"search:fallback:v1:{hashlib.sha256(state.encode()).hexdigest()[:32]}"


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
        words = query_words(spec.query)
        if not words:
            # Only punctuation ("*", "\\"): nothing to match, and the raw text must never
            # reach the regular expressions below.
            return "FALSE", [], "0.0", []
        # Words of 4+ letters may be misspelt (trigram word similarity, GIN-indexed);
        # shorter ones must start a word.
        parts = ["d.search_text %%> %s" if len(word) >= 4 else "d.search_text ~ %s" for word in words]
        where, where_params = " AND ".join(parts), [w if len(w) >= 4 else rf"\m{w}" for w in words]
        # The fuzzy tiers of search.ranking: a misspelt author, a misspelt title, the rest.
        typed = spec.query.lower()
        score = (
            f"CASE WHEN LOWER(d.author_names::text) %%> %s THEN {ranking.FUZZY_AUTHOR}"
            f" WHEN LOWER(d.title) %%> %s THEN {ranking.FUZZY_TITLE} ELSE {ranking.FUZZY_ANY} END"
        )
        score_params = [typed, typed]
        series = "0"
        series_params: list[Any] = []
    else:
        tsquery = " || ".join(["websearch_to_tsquery('cloudshelf_english', %s)"] * len(spec.variants))
        phrase = " || ".join(["phraseto_tsquery('cloudshelf_english', %s)"] * len(spec.variants))
        where, where_params = f"d.search_vector @@ ({tsquery})", list(spec.variants)
        # The best tier each row reaches (search.ranking); the vector's weights are title A,
        # authors B, subtitle, category and tags C, description D (search.services).
        tiers = [(f"ts_filter(d.search_vector, '{{b}}') @@ ({tsquery})", ranking.AUTHOR, spec.variants)]
        words = _plain_words(spec.query)
        if words:
            # Some words in an author's name, the rest in the title ("kafka castle").
            any_word = "to_tsquery('cloudshelf_english', %s)"
            tiers.append(
                (
                    f"ts_filter(d.search_vector, '{{a,b}}') @@ ({tsquery})"
                    f" AND ts_filter(d.search_vector, '{{b}}') @@ {any_word}"
                    f" AND ts_filter(d.search_vector, '{{a}}') @@ {any_word}",
                    ranking.AUTHOR_TITLE,
                    [*spec.variants, " | ".join(words), " | ".join(words)],
                )
            )
        tiers += [
            (f"ts_filter(d.search_vector, '{{a}}') @@ ({phrase})", ranking.TITLE_PHRASE, spec.variants),
            (f"ts_filter(d.search_vector, '{{a}}') @@ ({tsquery})", ranking.TITLE_WORDS, spec.variants),
            (f"ts_filter(d.search_vector, '{{a,b,c}}') @@ ({tsquery})", ranking.CORE_WORDS, spec.variants),
        ]
        key = ranking.query_title_key(spec.query)
        if key:
            tiers.insert(0, ("d.title_keys ? %s", ranking.EXACT_TITLE, [key]))
        score = "CASE " + " ".join(f"WHEN {condition} THEN {value}" for condition, value, _ in tiers)
        score += f" ELSE {ranking.ANY_FIELD} END"
        score_params = [param for _, _, params in tiers for param in params]
        # A query that is the book's series' name lists the series in reading order.
        series = (
            f"CASE WHEN d.series <> '' AND cloudshelf_title_key(d.series) = %s"
            f" THEN COALESCE({ranking.SERIES_ORDER_WEIGHT} / (1 + d.series_number), 0) ELSE 0 END"
        )
        series_params = [key]
    if spec.isbn:
        where = f"(({where}) OR d.isbn13 = %s)"
        where_params.append(spec.isbn)
        score = f"CASE WHEN d.isbn13 = %s THEN {ranking.ISBN} ELSE {score} END"
        score_params.insert(0, spec.isbn)
    prior = f"(1 + {ranking.POPULARITY_WEIGHT} * LOG(1 + d.ratings_count) + {series})"
    return where, where_params, f"({score}) * {prior}", [*score_params, *series_params]


def _plain_words(text: str) -> list[str]:
    """Letters and digits only, safe to join into a ``to_tsquery`` expression."""
    words: list[str] = re.findall(r"[^\W_]+", text.lower())
    return words[:MAX_QUERY_WORDS]


# The candidates' order for each sort other than relevance: the sort itself, on the search rows.
_PG_PREORDER = {
    "price": "d.price, d.book_id",
    "price-desc": "d.price DESC, d.book_id DESC",
    "rating": "d.average_rating DESC, d.ratings_count DESC, d.book_id",
    "newest": "COALESCE(d.publication_sort_date, DATE '0001-01-01') DESC, d.book_id",
}


def _preorder(spec: SearchSpec, *, typo_tolerant: bool) -> tuple[str, list[Any]]:
    """``(ORDER BY sql, params)`` choosing the candidates: cheap to compute for every match.

    For relevance: an exact title or the ISBN first, then books whose title and authors
    hold every word (a substring test on the short ``search_text``, no vector read), then
    the most read. The candidates are then ranked properly (``_pg_match``).
    """
    if spec.sort.key != "relevance":
        return _PG_PREORDER[spec.sort.key], []
    if not spec.query:
        return "d.popularity DESC, d.book_id", []
    parts: list[str] = []
    params: list[Any] = []
    if spec.isbn:
        parts.append("(d.isbn13 = %s) DESC")
        params.append(spec.isbn)
    key = ranking.query_title_key(spec.query)
    if key and not typo_tolerant:
        parts.append("(d.title_keys ? %s) DESC")
        params.append(key)
    words = _plain_words(spec.query)
    if words and not typo_tolerant:
        parts.append("(d.search_text LIKE ALL (%s)) DESC")
        params.append([f"%{word}%" for word in words])
    parts += ["d.ratings_count DESC", "d.book_id"]
    return ", ".join(parts), params


def _pg_filters(filters: SearchFilters, *, without: str | None = None, on: str = "m") -> tuple[str, list[Any]]:
    """The facet filters over rows ``on`` (the scored candidates ``m``, or search rows ``d``), except ``without``."""
    in_stock = "m.in_stock" if on == "m" else f"{on}.is_in_stock"
    clauses: list[str] = []
    params: list[Any] = []
    if filters.category and without != "category":
        clauses.append(f"{on}.category_id = ANY(%s)")
        params.append(subtree_ids(filters.category))
    if filters.authors and without != "author":
        clauses.append(f"JSONB_EXISTS_ANY({on}.author_names, %s)")
        params.append(list(filters.authors))
    if filters.prices and without != "price":
        ranges = []
        for key in filters.prices:
            bounds = PRICE_RANGES_BY_KEY[key]
            limits = []
            if bounds.low is not None:
                limits.append(f"{on}.price >= %s")
                params.append(bounds.low)
            if bounds.high is not None:
                limits.append(f"{on}.price < %s")
                params.append(bounds.high)
            ranges.append(f"({' AND '.join(limits)})")
        clauses.append(f"({' OR '.join(ranges)})")
    if filters.min_rating and without != "rating":
        clauses.append(f"{on}.average_rating >= %s")
        params.append(filters.min_rating)
    if filters.in_stock and without != "in_stock":
        clauses.append(in_stock)
    if filters.languages and without != "language":
        clauses.append(f"{on}.language = ANY(%s)")
        params.append(list(filters.languages))
    if filters.decades and without != "decade":
        decade_range = f"({on}.publication_date >= %s AND {on}.publication_date < %s)"
        clauses.append(f"({' OR '.join([decade_range] * len(filters.decades))})")
        for decade in filters.decades:
            params += [date(decade, 1, 1), date(decade + 10, 1, 1)]
    return " AND ".join(clauses) or "TRUE", params


def _postgres_search(spec: SearchSpec, *, typo_tolerant: bool) -> tuple[list[int], FacetCounts, int, int]:
    """The page of ids, every facet count, the total and the books the words match (unfiltered), in one statement.

    The text match runs once, over the search rows alone (no join to the catalog), and
    keeps a bounded set of *candidates*: the likeliest matches first (an exact title or
    ISBN, then every word in the title or an author's name, then the most read; for the
    other sorts, that sort's order), at most ``SEARCH_FACET_SAMPLE`` of them (more for a
    deep page), with the count of all matches. Only the candidates are scored and
    counted, so a word matching a hundred thousand books costs what a rare one does. The
    hits come from the candidates that pass every filter (their own bounded set when
    filters are on, so a filter never empties a page that has books); each facet is
    counted over the unfiltered candidates with every other facet's filters, and scaled
    up and marked approximate past the bound, as OpenSearch's sample is.
    """
    rows = connection.ops.quote_name(BookSearchDocument._meta.db_table)
    where, where_params, score, score_params = _pg_match(spec, typo_tolerant=typo_tolerant)
    preorder, preorder_params = _preorder(spec, typo_tolerant=typo_tolerant)
    if spec.sort.key == "relevance":
        order = "m.score DESC, m.ratings_count DESC, m.id" if spec.query else "m.popularity DESC, m.id"
    else:
        order = _PG_ORDER[spec.sort.key]
    bound = max(settings.SEARCH_FACET_SAMPLE, spec.page * spec.page_size)
    columns = f"""d.book_id AS id, d.category_id, d.price, d.average_rating, d.ratings_count, d.popularity,
               d.language, d.publication_date, COALESCE(d.publication_sort_date, DATE '0001-01-01')
               AS publication_sort_date, d.is_in_stock AS in_stock, d.author_names, {score} AS score"""
    every, every_params = _pg_filters(spec.filters, on="d")
    filtered = bool(spec.filters.active())

    def candidates(name: str, condition: str) -> str:
        return f"""{name} AS MATERIALIZED (
            SELECT d.book_id, COUNT(*) OVER () AS matched FROM {rows} d WHERE {condition}
            ORDER BY {preorder} LIMIT {bound})"""

    def scored(name: str, source: str) -> str:
        return f"{name} AS MATERIALIZED (SELECT {columns} FROM {source} c JOIN {rows} d ON d.book_id = c.book_id)"

    ctes = [candidates("c", where), scored("m", "c")]
    params: list[Any] = [*where_params, *preorder_params, *score_params]
    if filtered:
        # The hits' own candidates: the matches that pass every filter.
        ctes += [
            candidates("hc", f"({where}) AND {every}"),
            scored("hm", "hc"),
        ]
        params += [*where_params, *every_params, *preorder_params, *score_params]
        hits_from, total_sql = "hm AS m", "(SELECT 'total', '', COALESCE(MAX(hc.matched), 0) FROM hc)"
    else:
        hits_from, total_sql = "m", "(SELECT 'total', '', COALESCE(MAX(c.matched), 0) FROM c)"
    sql = ["WITH " + ",\n".join(ctes)]
    sql.append(
        f"(SELECT 'hit', m.id::text, ROW_NUMBER() OVER (ORDER BY {order}) FROM {hits_from} "
        f"ORDER BY {order} LIMIT %s OFFSET %s)"
    )
    params += [spec.page_size, spec.offset]
    sql.append(total_sql)
    sql.append("(SELECT 'matched', '', COALESCE(MAX(c.matched), 0) FROM c)")
    sql.append("(SELECT 'sampled', '', COUNT(*) FROM c)")
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
    for name in FACET_NAMES if spec.with_facets else ():
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
    total = matched = sampled = 0
    categories: dict[int, int] = {}
    for facet, key, count in results:
        if facet == "total":
            total = int(count)
        elif facet == "matched":
            matched = int(count)
        elif facet == "sampled":
            sampled = int(count)
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
    counts.category = roll_up_categories(categories)
    if 0 < sampled < matched:
        counts = counts.scaled(matched / sampled)
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
