"""Celery tasks of the analytics app."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from analytics import services
from analytics.models import SearchLog

# Rows deleted per statement: short transactions and locks, however large the backlog.
PRUNE_BATCH_SIZE = 5000


@shared_task(name="analytics.flush_search_logs", acks_late=True, ignore_result=True)
def flush_search_logs(key: str) -> int:
    """Write the buffered search events of ``key`` (idempotent: popped events are gone)."""
    return services.search_logs_flush(key=key)


def search_logs_delete_older_than(*, days: int, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete search logs of searches run more than ``days`` days ago, ``batch_size`` rows per
    statement. Returns how many went.

    The cut-off is fixed at the start, so rows of searches running meanwhile are never taken,
    and each batch commits on its own: a prune stopped halfway has still done its part.
    """
    if days < 1 or batch_size < 1:
        raise ValueError(f"days ({days}) and batch_size ({batch_size}) must be at least 1")
    cutoff = timezone.now() - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            SearchLog.objects.filter(searched_at__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += SearchLog.objects.filter(pk__in=ids).delete()[0]


@shared_task(name="analytics.tasks.search_logs_prune", acks_late=True, ignore_result=True)
def search_logs_prune() -> int:
    """Daily: search logs older than ``SEARCH_LOG_RETENTION_DAYS`` (idempotent)."""
    return search_logs_delete_older_than(days=settings.SEARCH_LOG_RETENTION_DAYS)
