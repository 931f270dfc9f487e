"""Deleting old analytics rows in short batches (search logs, RUM beacons)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

# Rows deleted per statement: short transactions and locks, however large the backlog.
PRUNE_BATCH_SIZE = 5000


def rows_delete_older_than(*, model: type[models.Model], time_field: str, days: int, batch_size: int) -> int:
    """Delete ``model`` rows whose ``time_field`` is more than ``days`` days ago, ``batch_size``
    rows per statement. Returns how many went.

    The cut-off is fixed at the start, so rows written meanwhile are never taken, and each
    batch commits on its own: a prune stopped halfway has still done its part.
    """
    if days < 1 or batch_size < 1:
        raise ValueError(f"days ({days}) and batch_size ({batch_size}) must be at least 1")
    cutoff = timezone.now() - timedelta(days=days)
    old = model._default_manager.filter(**{f"{time_field}__lt": cutoff})
    deleted = 0
    while True:
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += model._default_manager.filter(pk__in=ids).delete()[0]
