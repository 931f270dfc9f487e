"""Daily roll-ups of shop events, and the record of written batches that makes the buffer exactly-once.

Events are counted, not kept: a year of reports reads a few hundred thousand roll-up rows
instead of tens of millions of events. The flush adds each batch into these rows with
``INSERT ... ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n`` (``analytics.events``). Days are
UTC days. Book ids are plain numbers, not foreign keys: analytics must not stop the catalog
deleting a book, and its counts outlive the book.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone


class BookDay(models.Model):
    """What happened to one book on one day: views, adds to cart, checkouts started and orders placed."""

    day = models.DateField()
    book_id = models.BigIntegerField()
    views = models.PositiveIntegerField(default=0)
    adds = models.PositiveIntegerField(default=0)
    checkouts = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    # Copies in placed orders, and what they were sold for (order currency; see docs/observability.md).
    units = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "book_id"], name="bookday_one_per_book_and_day")]
        indexes = [models.Index(fields=["book_id", "day"], name="bookday_by_book")]

    def __str__(self) -> str:
        return f"book {self.book_id} on {self.day}"


class SiteDay(models.Model):
    """The shop's totals of one day: the funnel's four stages (counts of events, not of visitors)."""

    day = models.DateField(unique=True)
    views = models.PositiveIntegerField(default=0)
    adds = models.PositiveIntegerField(default=0)
    checkouts = models.PositiveIntegerField(default=0)
    orders = models.PositiveIntegerField(default=0)
    units = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))

    def __str__(self) -> str:
        return str(self.day)


class SearchDay(models.Model):
    """How often one query (normalized: trimmed, lower case, spaces collapsed) was searched on one day."""

    day = models.DateField()
    query = models.CharField(max_length=200)
    searches = models.PositiveIntegerField(default=0)
    zero_results = models.PositiveIntegerField(default=0)
    # Sum of the result counts, so a report can show the average number of results.
    results_total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "query"], name="searchday_one_per_query_and_day")]
        indexes = [
            # Zero-result reports read only the rows that had any.
            models.Index(fields=["day"], condition=models.Q(zero_results__gt=0), name="searchday_zero_by_day"),
        ]

    def __str__(self) -> str:
        return f"{self.query!r} on {self.day}"


class FlushedBatch(models.Model):
    """A buffer batch already written (``analytics.buffer``): replaying it must not count it twice.

    Kept for ``ANALYTICS_BATCH_RECORD_DAYS``; a batch stuck in Redis longer than that would be
    written again.
    """

    id = models.CharField(max_length=32, primary_key=True)
    stream = models.CharField(max_length=32)
    flushed_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.stream} batch {self.id}"
