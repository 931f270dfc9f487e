"""Recording searches off the request path (the ``search`` stream of ``analytics.buffer``).

``search_log_enqueue`` is what the ``search_performed`` receiver calls: the event goes onto a
Redis list in one round trip, and the first event of a burst schedules one flush a few seconds
later, which writes the raw ``SearchLog`` rows and the ``SearchDay`` counts in one transaction
(``analytics.events.write_searches``). A customer's search never waits for an ``INSERT``.
Without Redis (the embedded default) the rows are written at once: there is nowhere to buffer.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from analytics import buffer
from analytics.events import SEARCH_STREAM

FLUSH_AFTER_SECONDS = buffer.FLUSH_AFTER_SECONDS


def search_log_key() -> str:
    """The Redis list of pending search events."""
    return buffer.pending_key(SEARCH_STREAM)


def search_log_enqueue(*, event: dict[str, Any]) -> None:
    """Buffer one search event for a batched write. Never raises: analytics must not break a search."""
    buffer.enqueue(SEARCH_STREAM, {**event, "searched_at": timezone.now().isoformat()})


def search_logs_flush(*, key: str | None = None) -> int:
    """Write every buffered search event in ``key`` (default ``search_log_key()``); returns the log rows written."""
    return buffer.flush(stream=SEARCH_STREAM, key=key)
