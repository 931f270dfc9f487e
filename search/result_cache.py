"""Shared answers from OpenSearch: which books match a search, in what order, with what counts.

Shoppers repeat each other's searches ("harry potter", a category with "in stock"), and
answering one from OpenSearch is the dearest part of a results page: the scoring query,
the facet aggregations, on a typo the fuzzy retry and the "did you mean" suggester. So
the answer (``FoundBooks``: ids, total, highlights, facet counts, suggestion) is kept in
the default cache (Redis in production, shared by every process) for
``SEARCH_RESULTS_CACHE_SECONDS``.

What is kept is only what OpenSearch decided. The books themselves (title, price, stock)
are read from Postgres on every request, so a cached answer never shows a stale price.

Freshness: every write to the index (``search.services``) bumps a *generation* after the
written documents are visible, and an answer stored under an older generation is never
used. So a search reflects the catalog as soon as the index does; the TTL only bounds
how long an answer lives when nothing is written. The generation is read together with
the answer (one ``get_many``), and an answer is stored with the generation read
*before* asking OpenSearch, so an answer computed while a write landed is not trusted.

Fallback (database) answers are never kept: the fallback is for outages, and the next
search after OpenSearch recovers should come from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from cloudshelf.edge.page_cache import pages_changed
from search import ranking
from search.facets import FacetCounts
from search.params import SearchSpec

logger = logging.getLogger(__name__)

# Every kept results page depends on this page-cache tag (cloudshelf.edge.page_cache).
SEARCH_TAG = "search"

# Bump when FoundBooks or the queries that fill it change shape.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class FoundHit:
    """One hit as OpenSearch returned it: the book's id and its highlights, if OpenSearch made any."""

    book_id: int
    title_marked: str | None = None
    description_marked: str | None = None


@dataclass(frozen=True)
class FoundBooks:
    """OpenSearch's answer to one search, before the books are read from the database."""

    total: int
    hits: list[FoundHit]
    facet_counts: FacetCounts
    suggestion: str | None = None


def _generation_key() -> str:
    return f"{settings.SEARCH_INDEX_PREFIX}results:generation"


def _answer_key(spec: SearchSpec) -> str:
    described = json.dumps(
        [
            FORMAT_VERSION,
            ranking.RANKING_VERSION,
            spec.query,
            spec.variants,
            spec.isbn,
            spec.filters.as_dict(),
            spec.sort.key,
            spec.page,
            spec.page_size,
            # An answer without facet counts must never be served as a full one, nor the reverse.
            spec.with_facets,
        ],
        sort_keys=True,
    )
    digest = hashlib.blake2b(described.encode(), digest_size=16).hexdigest()
    return f"{settings.SEARCH_INDEX_PREFIX}results:{digest}"


def search_results_changed() -> None:
    """Retire every kept answer and results page: call after a write to the index has become visible to searches."""
    try:
        cache.set(_generation_key(), uuid.uuid4().hex, timeout=None)
    except Exception:  # a cache outage: answers are not being read either
        logger.warning("search result cache: could not bump the generation", exc_info=True)
    pages_changed([SEARCH_TAG])


def found_books(spec: SearchSpec, ask_opensearch: Callable[[], FoundBooks]) -> FoundBooks:
    """The kept answer to ``spec`` when it is current, else ``ask_opensearch()`` (then kept)."""
    seconds = settings.SEARCH_RESULTS_CACHE_SECONDS
    if not seconds:
        return ask_opensearch()
    answer_key, generation_key = _answer_key(spec), _generation_key()
    kept = cache.get_many([answer_key, generation_key])
    generation = kept.get(generation_key, "")
    stored = kept.get(answer_key)
    if stored is not None and stored[0] == generation:
        return stored[1]
    found = ask_opensearch()
    cache.set(answer_key, (generation, found), timeout=seconds)
    return found
