"""Synonyms staff edit in the admin, applied by expanding the query.

Why query-time expansion and not a ``synonym_graph`` filter in the index analyzers:
OpenSearch cannot reload an analyzer's synonyms in place (only Amazon's managed service
has a reload API); a change would need the index closed and reopened (searches fail
meanwhile) or a full rebuild into a new index and an alias swap (minutes of work and
twice the disk for every edit). Expanding the query instead costs nothing at index time,
makes an edit live as soon as the cached synonym map is refreshed (seconds; at most
``SEARCH_SYNONYMS_CACHE_SECONDS`` + 5 s even if the cache delete is lost), and the very
same expansion serves the Postgres fallback, so both backends agree.

How: the query's words are matched against every term (longest phrase first, left to
right), and each match may be replaced by any term of its group. ``sci-fi thrillers``
becomes ``["sci-fi thrillers", "science fiction thrillers"]``; the engine searches for
any of the variants.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time

from django.conf import settings
from django.core.cache import cache

from search.models import Synonym, normalize_term
from search.result_cache import search_results_changed

CACHE_KEY = "search:synonyms:v1"
# Each process also keeps the map this long, so a search costs no cache round trip.
MEMO_SECONDS = 5.0
# A query with many synonym matches could expand combinatorially; these variants suffice.
MAX_VARIANTS = 8
MAX_PHRASE_WORDS = 6

SynonymMap = dict[tuple[str, ...], tuple[str, ...]]

_memo: tuple[float, SynonymMap] | None = None
_memo_lock = threading.Lock()
# A digest of the map this process searches with (see ``synonyms_version``).
_version = ""


def _load() -> SynonymMap:
    """Every active group, keyed by each of its terms (as a word tuple)."""
    mapping: SynonymMap = {}
    for synonym in Synonym.objects.filter(is_active=True).order_by("pk"):
        group = tuple(synonym.term_list)
        if len(group) < 2:
            continue
        for term in group:
            words = tuple(term.split())
            if 0 < len(words) <= MAX_PHRASE_WORDS:
                # A term in two groups: the groups merge, as staff would mean.
                mapping[words] = tuple(dict.fromkeys(mapping.get(words, ()) + group))
    return mapping


def synonym_map() -> SynonymMap:
    """The current synonym map: process memo, then the shared cache, then the database."""
    global _memo, _version
    now = time.monotonic()
    memo = _memo
    if memo is not None and memo[0] > now:
        return memo[1]
    with _memo_lock:
        mapping = cache.get(CACHE_KEY)
        if mapping is None:
            mapping = _load()
            cache.set(CACHE_KEY, mapping, settings.SEARCH_SYNONYMS_CACHE_SECONDS)
        if memo is None or mapping != memo[1]:
            _version = hashlib.blake2b(repr(sorted(mapping.items())).encode(), digest_size=8).hexdigest()
        _memo = (now + MEMO_SECONDS, mapping)
    return mapping


def synonyms_version() -> str:
    """Which synonym map this process searches with: a digest of it, the same in every process.

    Part of a kept results page's key (``search.page_cache``), so a process that learns of
    an edit late never serves or keeps pages made with a map other than its own.
    """
    synonym_map()
    return _version


def synonyms_changed() -> None:
    """Forget the cached map everywhere (the shared cache) and here (the memo)."""
    global _memo
    cache.delete(CACHE_KEY)
    _memo = None
    # Kept answers and pages were made with the old synonyms (other processes also
    # notice the new map itself within MEMO_SECONDS, see synonyms_version).
    search_results_changed()


def expand(query: str) -> list[str]:
    """The query and its synonym variants, the query itself first (deduplicated, at most ``MAX_VARIANTS``)."""
    mapping = synonym_map()
    words = normalize_term(query).split()
    if not mapping or not words:
        return [query] if query else []
    longest = max(len(key) for key in mapping)
    segments: list[tuple[str, ...]] = []
    index = 0
    while index < len(words):
        for length in range(min(longest, len(words) - index), 0, -1):
            key = tuple(words[index : index + length])
            if key in mapping:
                written = " ".join(key)
                segments.append((written, *(term for term in mapping[key] if term != written)))
                index += length
                break
        else:
            segments.append((words[index],))
            index += 1
    if all(len(segment) == 1 for segment in segments):
        return [query]
    variants = [query]
    for combination in itertools.islice(itertools.product(*segments), MAX_VARIANTS + 1):
        variant = " ".join(combination)
        if variant not in variants and variant != normalize_term(query):
            variants.append(variant)
    return variants[:MAX_VARIANTS]
