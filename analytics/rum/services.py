"""Keeping beacons: handed to the analytics buffer on the request, written in batches by Celery.

The endpoint calls ``rum_beacon_record``, which costs the request one Redis round trip
(``analytics.buffer.enqueue``) and, on a book page, the product view's (``record_event``).
The buffer's flush calls ``rum_beacons_write`` with a batch: one ``bulk_create``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from analytics import buffer
from analytics.events import record_event
from analytics.models import RumBeacon
from analytics.retention import PRUNE_BATCH_SIZE, rows_delete_older_than
from analytics.rum.beacons import Beacon

logger = logging.getLogger(__name__)

RUM_STREAM = "rum"
_COLUMNS = (
    "route_name",
    "route_class",
    "ttfb_ms",
    "dom_ready_ms",
    "load_ms",
    "lcp_ms",
    "inp_ms",
    "cls",
    "navigation_type",
    "effective_connection_type",
    "sample_rate",
)


def rum_beacon_record(*, beacon: Beacon, received_at: datetime | None = None) -> None:
    """Keep a validated beacon: its timings as a ``RumBeacon`` (when sampled), its book page as a product view.

    Never raises and never waits for Postgres (both go through the buffer).
    """
    when = received_at or timezone.now()
    if beacon.book_id is not None:
        record_event("product_view", book_id=beacon.book_id, occurred_at=when)
    if beacon.is_timed:
        fields = asdict(beacon)
        buffer.enqueue(RUM_STREAM, {"received_at": when.isoformat(), **{column: fields[column] for column in _COLUMNS}})


def _row(payload: dict[str, Any]) -> RumBeacon:
    received_at = datetime.fromisoformat(payload["received_at"])
    if timezone.is_naive(received_at):
        raise ValueError("received_at without a time zone")
    row = RumBeacon(received_at=received_at, **{column: payload[column] for column in _COLUMNS})
    row.full_clean(validate_unique=False, validate_constraints=False)
    return row


def rum_beacons_write(payloads: list[dict[str, Any]]) -> int:
    """The ``rum`` stream's writer: the batch's beacons as ``RumBeacon`` rows, one ``bulk_create``.

    Runs inside the flush's transaction. A payload that does not make a valid row (it was
    validated before it was buffered, so only a bug or a hand-edited queue does that) is
    dropped with a warning rather than holding back the rest of the batch.
    """
    rows = []
    for payload in payloads:
        try:
            rows.append(_row(payload))
        except (KeyError, TypeError, ValueError, ValidationError):
            logger.warning("analytics: dropped a malformed rum beacon %r", str(payload)[:200])
    RumBeacon.objects.bulk_create(rows)
    return len(rows)


def register_rum_writer() -> None:
    """Name the ``rum`` stream's writer (``AnalyticsConfig.ready``)."""
    buffer.register_writer(RUM_STREAM, rum_beacons_write)


def rum_beacons_delete_older_than(*, days: int, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete beacons received more than ``days`` days ago, ``batch_size`` rows per statement; returns how many."""
    return rows_delete_older_than(model=RumBeacon, time_field="received_at", days=days, batch_size=batch_size)
