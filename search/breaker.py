"""The circuit breaker around OpenSearch: ``cloudshelf.breaker`` with the search settings.

``SEARCH_BREAKER_FAILURES`` failures or timeouts within ``SEARCH_BREAKER_WINDOW`` seconds
open it for ``SEARCH_BREAKER_COOLDOWN``; searches meanwhile go to the database fallback.
Its keys carry ``SEARCH_INDEX_PREFIX`` so a test run's breaker is not the stack's. The
machinery (states, Redis and process-memory stores) lives in ``cloudshelf.breaker``; the
names are re-exported here for the search code and its tests.
"""

from __future__ import annotations

from django.conf import settings

from cloudshelf.breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    Attempt,
    BreakerPolicy,
    MemoryStore,
    RedisStore,
    _memory_store,
)
from cloudshelf.breaker import CircuitBreaker as NamedCircuitBreaker

__all__ = [
    "CLOSED",
    "HALF_OPEN",
    "OPEN",
    "Attempt",
    "CircuitBreaker",
    "MemoryStore",
    "RedisStore",
    "_memory_store",
    "opensearch_breaker",
    "search_breaker_policy",
]


def search_breaker_policy() -> BreakerPolicy:
    """The search settings as a breaker policy; the probe may take a few client timeouts."""
    return BreakerPolicy(
        failures=settings.SEARCH_BREAKER_FAILURES,
        window=settings.SEARCH_BREAKER_WINDOW,
        cooldown=settings.SEARCH_BREAKER_COOLDOWN,
        probe_seconds=max(2.0, settings.OPENSEARCH_TIMEOUT * 4),
        key_prefix=settings.SEARCH_INDEX_PREFIX,
    )


class CircuitBreaker(NamedCircuitBreaker):
    """A breaker named ``name`` that follows the search settings (``register=False``: a throwaway one)."""

    def __init__(self, name: str, *, description: str = "", register: bool = True) -> None:
        super().__init__(name, policy=search_breaker_policy, description=description, register=register)


opensearch_breaker = CircuitBreaker(
    "opensearch", description="OpenSearch queries; while open, searches and autocomplete are answered by Postgres."
)
