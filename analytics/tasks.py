"""Celery tasks of the analytics app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from analytics import buffer
from analytics.events import SEARCH_STREAM
from analytics.models import FlushedBatch, SearchLog
from analytics.retention import PRUNE_BATCH_SIZE, rows_delete_older_than
from analytics.rum.services import rum_beacons_delete_older_than


@shared_task(name="analytics.flush_buffer", acks_late=True, ignore_result=True)
def flush_buffer(stream: str, key: str | None = None) -> int:
    """Write the buffered events of ``stream`` from its pending list ``key`` (safe to run twice:
    see ``analytics.buffer``)."""
    return buffer.flush(stream=stream, key=key)


@shared_task(name="analytics.flush_search_logs", acks_late=True, ignore_result=True)
def flush_search_logs(key: str = "") -> int:
    """Kept for flushes queued before the buffer took streams (their ``key`` named the old list,
    which nothing fills any more): the ``search`` stream's flush."""
    return buffer.flush(stream=SEARCH_STREAM)


def search_logs_delete_older_than(*, days: int, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete search logs of searches run more than ``days`` days ago, ``batch_size`` rows per
    statement (``analytics.retention``). Returns how many went."""
    return rows_delete_older_than(model=SearchLog, time_field="searched_at", days=days, batch_size=batch_size)


def flushed_batches_delete_older_than(*, days: int) -> int:
    """Forget written buffer batches older than ``days`` days (one statement: a day holds a few thousand)."""
    if days < 1:
        raise ValueError(f"days ({days}) must be at least 1")
    return FlushedBatch.objects.filter(flushed_at__lt=timezone.now() - timedelta(days=days)).delete()[0]


@shared_task(name="analytics.tasks.search_logs_prune", acks_late=True, ignore_result=True)
def search_logs_prune() -> int:
    """Daily: search logs older than ``SEARCH_LOG_RETENTION_DAYS``, and the buffer's batch records
    older than ``ANALYTICS_BATCH_RECORD_DAYS`` (idempotent). Returns the search logs deleted."""
    flushed_batches_delete_older_than(days=settings.ANALYTICS_BATCH_RECORD_DAYS)
    return search_logs_delete_older_than(days=settings.SEARCH_LOG_RETENTION_DAYS)


@shared_task(name="analytics.tasks.rum_beacons_prune", acks_late=True, ignore_result=True)
def rum_beacons_prune() -> int:
    """Daily: real-user monitoring beacons older than ``RUM_RETENTION_DAYS`` (idempotent)."""
    return rum_beacons_delete_older_than(days=settings.RUM_RETENTION_DAYS)
