"""Celery tasks of the analytics app."""

from __future__ import annotations

from celery import shared_task

from analytics import services


@shared_task(name="analytics.flush_search_logs", acks_late=True, ignore_result=True)
def flush_search_logs(key: str) -> int:
    """Write the buffered search events of ``key`` (idempotent: popped events are gone)."""
    return services.search_logs_flush(key=key)
