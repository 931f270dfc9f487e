"""Searching books: ``search_books`` and ``autocomplete``, for the pages and the partner API.

This module only chooses which backend answers (``search.backends``): OpenSearch when it is
configured, not forced off (``SEARCH_FORCE_FALLBACK``) and the circuit breaker lets it;
otherwise, or when OpenSearch fails, the database (Postgres full text, or plain querysets
on SQLite). Callers cannot tell the difference except by ``result.backend``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from opensearchpy.exceptions import TransportError

from search import synonyms
from search.backends import opensearch, postgres, sqlite
from search.backends.base import SearchBackend
from search.breaker import opensearch_breaker
from search.client import is_configured, is_outage
from search.params import (
    SearchFilters,
    SearchInputError,
    SearchPageOutOfRange,
    SearchSpec,
    clean_query,
    isbn_in_query,
    search_sort,
)
from search.results import AutocompleteResult, SearchResult
from search.signals import SearchPerformed

__all__ = [
    "AutocompleteResult",
    "SearchFilters",
    "SearchInputError",
    "SearchPageOutOfRange",
    "SearchResult",
    "autocomplete",
    "search_books",
    "search_spec",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

MAX_PAGE_SIZE = 100
AUTOCOMPLETE_MIN_LENGTH = 2
AUTOCOMPLETE_MAX_LENGTH = 100
AUTOCOMPLETE_AUTHORS = 3
AUTOCOMPLETE_CACHE_SECONDS = 60


def search_books(
    *,
    query: str = "",
    filters: SearchFilters | None = None,
    sort: str = "relevance",
    page: int = 1,
    page_size: int | None = None,
    with_facets: bool = True,
) -> SearchResult:
    """One page of books matching ``query`` and ``filters``, with facets (unless ``with_facets`` is off) and highlights.

    An empty query lists every book (facets and filters still apply). Raises
    ``SearchPageOutOfRange`` for a page below 1, past ``SEARCH_MAX_PAGE`` or past the
    last page of results; nothing else a caller passes raises. Every search is announced
    with ``search.signals.search_performed`` (analytics records it off the request path).
    """
    started = time.perf_counter()
    spec, was_cut = search_spec(query=query, filters=filters, sort=sort, page=page, page_size=page_size)
    spec = replace(spec, with_facets=with_facets)
    result = _answer(lambda backend: backend.search(spec))
    result = replace(
        result,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
        query_was_cut=was_cut,
        synonyms_used=spec.variants[1:],
    )
    SearchPerformed.from_result(result, latency_ms=result.took_ms).send()
    return result


def search_spec(
    *,
    query: str = "",
    filters: SearchFilters | None = None,
    sort: str = "relevance",
    page: int = 1,
    page_size: int | None = None,
) -> tuple[SearchSpec, bool]:
    """``(spec, query_was_cut)``: one search as every backend receives it (cleaned, bounded, synonym-expanded).

    Raises ``SearchPageOutOfRange`` for a page below 1 or past ``SEARCH_MAX_PAGE``. Public
    for what asks a backend directly, such as the relevance suite (``search.relevance``).
    """
    text, was_cut = clean_query(query)
    size = min(max(page_size or settings.SEARCH_PAGE_SIZE, 1), MAX_PAGE_SIZE)
    if page < 1 or page > settings.SEARCH_MAX_PAGE:
        raise SearchPageOutOfRange(
            f"Search results stop at page {settings.SEARCH_MAX_PAGE}; narrow the search with the filters.",
            last_page=settings.SEARCH_MAX_PAGE,
        )
    spec = SearchSpec(
        query=text,
        variants=synonyms.expand(text) if text else [],
        isbn=isbn_in_query(text) if text else None,
        filters=filters or SearchFilters(),
        sort=search_sort(sort),
        page=page,
        page_size=size,
    )
    return spec, was_cut


def autocomplete(*, prefix: str, limit: int = 6) -> AutocompleteResult:
    """Titles (up to ``limit``) and authors (up to 3) matching what has been typed so far.

    Nothing is searched below two letters. Words may be partial (``harr pott``) and may
    match title or author (``dune herb``).
    """
    text = clean_query(prefix)[0][:AUTOCOMPLETE_MAX_LENGTH]
    limit = min(max(limit, 1), 20)
    if len(text.replace(" ", "")) < AUTOCOMPLETE_MIN_LENGTH:
        return AutocompleteResult(prefix=text, titles=[], authors=[], backend="database")
    # Everyone types the same first letters: answers are shared for a minute (as long as
    # browsers and CDNs may keep them anyway). Fallback answers are not kept, so the
    # suggestions improve as soon as OpenSearch is back.
    key = f"search:autocomplete:v1:{limit}:{hashlib.sha256(text.lower().encode()).hexdigest()[:32]}"
    cached: AutocompleteResult | None = cache.get(key)
    if cached is not None:
        return replace(cached, prefix=text)
    result = _answer(lambda backend: backend.autocomplete(prefix=text, limit=limit, authors_limit=AUTOCOMPLETE_AUTHORS))
    if result.backend == "opensearch":
        cache.set(key, result, AUTOCOMPLETE_CACHE_SECONDS)
    return result


def database_backend() -> SearchBackend:
    """The fallback: Postgres full text on Postgres, plain querysets on any other database (SQLite)."""
    return postgres if connection.vendor == "postgresql" else sqlite


def _answer(ask: Callable[[SearchBackend], T]) -> T:
    """Ask OpenSearch under the circuit breaker; without it, or on its failure, ask the database."""
    if not is_configured() or settings.SEARCH_FORCE_FALLBACK:
        return ask(database_backend())
    attempt = opensearch_breaker.acquire()
    if attempt is None:
        return ask(database_backend())
    try:
        result = ask(opensearch)
    except TransportError as error:
        if is_outage(error):
            opensearch_breaker.record_failure(attempt)
            logger.warning("OpenSearch unavailable (%s); answering from the database", error)
        else:
            # OpenSearch answered, so it is up; the query itself is at fault. Log it loudly.
            opensearch_breaker.record_success(attempt)
            logger.exception("OpenSearch refused a search query; answering from the database")
        return ask(database_backend())
    opensearch_breaker.record_success(attempt)
    return result
