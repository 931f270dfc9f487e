"""Recording events off the request path.

``search_log_enqueue`` is what the ``search_performed`` receiver calls: it pushes the
event onto a Redis list (one round trip) and, for the first event of a burst, schedules
``analytics.flush_search_logs`` a few seconds later, which writes everything gathered
with one ``bulk_create``. A customer's search never waits for an ``INSERT``. Without
Redis (the embedded default) the row is written at once: there is nowhere to buffer.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.utils import timezone

from analytics.models import SearchLog

logger = logging.getLogger(__name__)

FLUSH_AFTER_SECONDS = 5
FLUSH_BATCH = 500


def search_log_key() -> str:
    """The Redis list of pending search events (named through the cache, so test runs never share it)."""
    return caches["durable"].make_key("analytics:search-log")


def _redis() -> Any:
    """The durable Redis: pending search events are data until flushed to Postgres."""
    from django_redis import get_redis_connection

    return get_redis_connection("durable")


def _row(event: dict[str, Any]) -> SearchLog:
    return SearchLog(
        query=str(event.get("query", ""))[:200],
        filters=event.get("filters") or {},
        sort=str(event.get("sort", ""))[:20],
        page=max(int(event.get("page", 1)), 1),
        result_count=max(int(event.get("result_count", 0)), 0),
        latency_ms=float(event.get("latency_ms", 0.0)),
        is_zero_result=bool(event.get("is_zero_result")),
        backend=str(event.get("backend", ""))[:16],
        searched_at=datetime.fromisoformat(event["searched_at"]) if event.get("searched_at") else timezone.now(),
    )


def search_log_enqueue(*, event: dict[str, Any]) -> None:
    """Buffer one search event for a batched write. Never raises: analytics must not break a search."""
    from analytics.tasks import flush_search_logs

    event = {**event, "searched_at": timezone.now().isoformat()}
    try:
        if not settings.REDIS_URL:
            _row(event).save()
            return
        key = search_log_key()
        redis = _redis()
        pipeline = redis.pipeline()
        pipeline.rpush(key, json.dumps(event))
        pipeline.set(f"{key}:scheduled", 1, nx=True, ex=FLUSH_AFTER_SECONDS * 6)
        _, is_first = pipeline.execute()
        if is_first:
            flush_search_logs.apply_async(args=[key], countdown=FLUSH_AFTER_SECONDS)
    except Exception:  # a lost analytics event is better than a failed search page
        logger.warning("analytics: could not record a search event", exc_info=True)


def search_logs_flush(*, key: str) -> int:
    """Write every buffered search event in ``key`` to ``SearchLog``; returns rows written.

    The flag is cleared first, so an event pushed meanwhile either is read here or
    schedules the next flush.
    """
    redis = _redis()
    redis.delete(f"{key}:scheduled")
    written = 0
    while True:
        raw = redis.lpop(key, FLUSH_BATCH) or []
        if not raw:
            return written
        rows = []
        for item in raw:
            try:
                rows.append(_row(json.loads(item)))
            except (ValueError, KeyError, TypeError):
                logger.warning("analytics: dropped a malformed search event %r", item[:200])
        SearchLog.objects.bulk_create(rows)
        written += len(rows)
