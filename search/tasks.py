"""Celery tasks that keep the search index true, and back it up. The sync tasks are
idempotent: they write what the database holds when they run, so a retry, a duplicate or a
late run does no harm; a duplicate snapshot is one more snapshot, pruned by retention."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.conf import settings
from opensearchpy.exceptions import TransportError

from search import services, snapshots
from search.client import is_configured

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


# A snapshot that failed because OpenSearch was down is tried again this much later, a few
# times; past that the next scheduled run (SEARCH_SNAPSHOT_HOURS) takes one.
SNAPSHOT_RETRY_SECONDS = 10 * 60
SNAPSHOT_RETRIES = 3


@shared_task(name="search.snapshot_index", bind=True, acks_late=True, ignore_result=True)
def snapshot_index(self: Task, prefix: str) -> str | None:
    """Snapshot the live books index and prune old snapshots (Celery beat, every 6 h by default).

    Never raises for an unreachable or refusing OpenSearch: it logs, retries later, and
    after ``SNAPSHOT_RETRIES`` leaves it to the next scheduled run; the worker carries on.
    Returns the new snapshot's name (None when none was taken).
    """
    if prefix != settings.SEARCH_INDEX_PREFIX:
        logger.warning("snapshot_index for prefix %r ignored by a worker for %r", prefix, settings.SEARCH_INDEX_PREFIX)
        return None
    if not settings.SEARCH_SNAPSHOT_REPOSITORY or not is_configured():
        return None
    try:
        info = snapshots.search_snapshot_take()
        snapshots.search_snapshots_prune()
    except (TransportError, snapshots.SnapshotError) as error:
        if self.request.retries < SNAPSHOT_RETRIES:
            logger.warning("search index snapshot failed (%s); retrying in %d s", error, SNAPSHOT_RETRY_SECONDS)
            raise self.retry(countdown=SNAPSHOT_RETRY_SECONDS, max_retries=SNAPSHOT_RETRIES) from None
        logger.error(
            "search index snapshot failed %d times (%s); the next scheduled run tries again",
            self.request.retries + 1,
            error,
        )
        return None
    return info.name
