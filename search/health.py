"""The search readiness probe for ``/health/ready`` (``cloudshelf.health.READINESS_CHECKS``).

Not a required check: when OpenSearch is down the database fallback serves searches, so
the node stays in service and the check reports "degraded".
"""

from __future__ import annotations

from django.conf import settings

from search.breaker import CLOSED, opensearch_breaker
from search.client import is_configured, search_client


def probe_search() -> None:
    """Raise when searches are not being served by OpenSearch: breaker not closed, node unreachable.

    With no ``OPENSEARCH_URL`` (the embedded default) the database *is* the search
    backend by design, so there is nothing to report.
    """
    if not is_configured():
        return
    if settings.SEARCH_FORCE_FALLBACK:
        raise RuntimeError("SEARCH_FORCE_FALLBACK is on: searches are served from the database")
    state = opensearch_breaker.state
    if state != CLOSED:
        raise RuntimeError(f"circuit breaker {state}: searches are served from the database")
    search_client().info()
