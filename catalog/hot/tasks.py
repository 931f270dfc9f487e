"""Celery tasks that keep the hot records true (docs/hot-data.md).

Both are idempotent: a sync writes what Postgres holds when it runs and never an older
version over a newer one; the drift check writes only what differs. A duplicate, a
redelivery or a late run does no harm. Registered when ``catalog.hot.receivers`` imports
this module (``CatalogConfig.ready``), in web processes and workers alike.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from botocore.exceptions import BotoCoreError, ClientError
from celery import Task, shared_task
from django.conf import settings

from catalog.hot.dynamo import HotTableError
from catalog.hot.sync import hot_books_sync, hot_drift_check

logger = logging.getLogger(__name__)


# Books per hot sync task: a few hundred conditional writes, a few seconds of a worker.
HOT_SYNC_CHUNK = 200


@shared_task(
    name="catalog.hot_sync_books",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=20,
)
def hot_sync_books_task(self: Task, book_ids: list[int], table: str) -> int:
    """Write the hot records of ``book_ids`` to ``table``; on a DynamoDB failure retry the batch later.

    ``table`` is the ``DYNAMODB_TABLE`` of whoever queued it: a worker configured for another
    table (another stack or test run on the same broker) leaves the task alone. Retries wait
    longer each time (up to ten minutes), so an outage is caught up on, not dropped.
    """
    if table != settings.DYNAMODB_TABLE:
        logger.warning("hot_sync_books for table %r ignored by a worker for %r", table, settings.DYNAMODB_TABLE)
        return 0
    try:
        outcome = hot_books_sync(book_ids=book_ids)
    except (HotTableError, BotoCoreError, ClientError) as error:
        if self.request.is_eager:
            raise
        countdown = min(600, 2 ** min(self.request.retries, 10))
        logger.warning("hot data: sync of %d books failed (%s); retry in %s s", len(book_ids), error, countdown)
        raise self.retry(exc=error, countdown=countdown) from error
    logger.info(
        "hot data: %d items written, %d refused as older, %d books deleted",
        outcome.written,
        outcome.refused,
        outcome.deleted,
    )
    return outcome.written


@shared_task(name="catalog.hot_drift_check", acks_late=True, ignore_result=True)
def hot_drift_check_task(table: str) -> int:
    """Compare ``DYNAMODB_DRIFT_SAMPLE`` random books with the table and repair them (Celery beat, hourly)."""
    if table != settings.DYNAMODB_TABLE:
        logger.warning("hot_drift_check for table %r ignored by a worker for %r", table, settings.DYNAMODB_TABLE)
        return 0
    report = hot_drift_check(sample=settings.DYNAMODB_DRIFT_SAMPLE, repair=True)
    if not report.is_clean:
        logger.warning(
            "hot data drift: %d missing, %d stale of %d books checked; %d repaired",
            len(report.missing),
            len(report.stale),
            report.checked,
            report.repaired,
        )
    return report.repaired


def hot_queue_books(*, book_ids: Iterable[int]) -> None:
    """Queue hot record syncs for ``book_ids`` now (callers do it after the commit), in chunks.

    Does nothing while ``DYNAMODB_TABLE`` is empty. Never raises: the books are saved either
    way, and the drift check (or ``dynamo_sync --check --all --repair``) catches up.
    """
    table = settings.DYNAMODB_TABLE
    ids = sorted(set(book_ids))
    if not ids or not table:
        return
    try:
        for start in range(0, len(ids), HOT_SYNC_CHUNK):
            hot_sync_books_task.delay(ids[start : start + HOT_SYNC_CHUNK], table)
    except Exception:  # after the commit: a broker outage must not fail the change
        logger.exception("hot data: could not queue syncs for %d books; the drift check catches up", len(ids))
