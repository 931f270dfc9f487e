"""Celery tasks of the catalog: fetching imported covers into our storage (docs/covers.md).

Both tasks are idempotent: ``cover_fetch`` leaves a book alone whose current cover is
fetched, or whose next try is not due, so a duplicate, a redelivery or a late run does
no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import Task, shared_task
from django.conf import settings
from django.db import transaction

from catalog.cover_fetch import CoverFetchStatus, books_needing_cover, cover_fetch

logger = logging.getLogger(__name__)

# Ids per batch task: one small message per chunk keeps the import's commit hook cheap.
QUEUE_CHUNK = 1000


@shared_task(
    name="catalog.cover_fetch",
    bind=True,
    acks_late=True,
    ignore_result=True,
    rate_limit=settings.COVER_FETCH_TASK_RATE_LIMIT or None,
)
def cover_fetch_task(self: Task, book_id: int) -> str:
    """Fetch one book's cover; after a failure that may pass, queue the next try for when it is due.

    The delay comes from the book's own failure count (``cover_retry_at``), not from
    Celery's retry counter, so ``fetch_covers`` and this task share one schedule.
    """
    outcome = cover_fetch(book_id=book_id)
    if outcome.status == CoverFetchStatus.FAILED and outcome.retry_at is not None and not self.request.is_eager:
        self.apply_async(args=[book_id], eta=outcome.retry_at)
    return outcome.status.value


@shared_task(name="catalog.cover_fetch_batch", acks_late=True, ignore_result=True)
def cover_fetch_batch_task(book_ids: list[int]) -> int:
    """Queue ``cover_fetch_task`` for those of ``book_ids`` whose cover is due a fetch; returns how many.

    The filter runs here, in the worker, so the import that queued the ids pays for one
    message per thousand books and no query.
    """
    due = list(books_needing_cover().filter(pk__in=book_ids).values_list("pk", flat=True))
    for book_id in due:
        cover_fetch_task.delay(book_id)
    return len(due)


def cover_fetch_queue(*, book_ids: Iterable[int]) -> None:
    """After the surrounding transaction commits, queue cover fetches for ``book_ids`` (those that need one).

    Does nothing unless ``COVER_FETCH_AUTOMATIC`` is on (off where Celery runs in-process,
    which would download every cover inside the import). Never raises: the books are
    saved either way, and ``manage.py fetch_covers`` catches up on any that were missed.
    """
    ids = sorted(set(book_ids))
    if not ids or not settings.COVER_FETCH_AUTOMATIC:
        return

    def queue() -> None:
        try:
            for start in range(0, len(ids), QUEUE_CHUNK):
                cover_fetch_batch_task.delay(ids[start : start + QUEUE_CHUNK])
        except Exception:  # after the commit: a broker outage must not fail the import
            logger.exception("covers: could not queue fetches for %d books; `fetch_covers` catches up", len(ids))

    transaction.on_commit(queue)
