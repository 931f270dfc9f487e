"""Celery tasks of the edge tier. Idempotent: a duplicate or late run sends nothing twice."""

from __future__ import annotations

import logging

from celery import shared_task

from cloudshelf.edge import cdn

logger = logging.getLogger(__name__)


@shared_task(name="cloudshelf.edge.tasks.cdn_flush_invalidations", acks_late=True, ignore_result=True)
def cdn_flush_invalidations(namespace: str) -> int:
    """Send the paths gathered by ``cdn.invalidate_paths`` to the local HTTP cache and CloudFront.

    ``namespace`` names the pending set of whoever queued it (the default cache's key
    prefix): a worker of another stack or test run on the same broker leaves it alone
    rather than flushing its own set at the wrong moment. Returns the paths sent.
    """
    store = cdn.pending_store()
    if namespace != store.namespace:
        logger.warning("cdn_flush_invalidations for %r ignored by a worker for %r", namespace, store.namespace)
        return 0
    report = cdn.flush_invalidations()
    return len(report.purged) + len(report.invalidated)
