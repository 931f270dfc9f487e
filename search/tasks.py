"""Celery tasks that keep the search index true. Both are idempotent: they write what the
database holds when they run, so a retry, a duplicate or a late run does no harm."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from search import services

logger = logging.getLogger(__name__)


@shared_task(name="search.sync_pending_books", acks_late=True, ignore_result=True)
def sync_pending_books(prefix: str) -> int:
    """Sync every book id queued by ``search_queue_books`` with bulk requests.

    ``prefix`` is the ``SEARCH_INDEX_PREFIX`` of whoever queued it: a worker configured for
    another index (another test run or stack on the same broker) leaves the task alone
    rather than writing one environment's books into another's index.
    """
    if prefix != settings.SEARCH_INDEX_PREFIX:
        logger.warning(
            "sync_pending_books for prefix %r ignored by a worker for %r", prefix, settings.SEARCH_INDEX_PREFIX
        )
        return 0
    return services.search_sync_pending()


@shared_task(name="search.sync_books", acks_late=True, ignore_result=True)
def sync_books(book_ids: list[int]) -> int:
    """Sync these books now (the embedded default's path, where there is no Redis to batch in)."""
    return services.search_books_sync(book_ids=book_ids)
