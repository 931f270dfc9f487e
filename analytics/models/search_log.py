"""Searches customers and partners ran, as they happened."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SearchLog(models.Model):
    """One search a customer (or partner) ran, for reports on what people look for and miss."""

    query = models.CharField(max_length=200, blank=True)
    filters = models.JSONField(default=dict, blank=True)
    sort = models.CharField(max_length=20, blank=True)
    page = models.PositiveIntegerField(default=1)
    result_count = models.PositiveIntegerField()
    latency_ms = models.FloatField()
    is_zero_result = models.BooleanField()
    backend = models.CharField(max_length=16)
    # When the search ran (not when the row was written, which is a few seconds later).
    searched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-searched_at", "-id"]
        indexes = [
            models.Index(fields=["-searched_at"], name="searchlog_by_time"),
            models.Index(fields=["is_zero_result", "-searched_at"], name="searchlog_zero_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.query!r}: {self.result_count} results"
