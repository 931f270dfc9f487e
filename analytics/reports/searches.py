"""What customers search for and what they do not find, with a trend against the period before.

Read from the daily counts (``SearchDay``): a search is a first page of results for a query,
counted under its normalized form (``analytics.events.normalize_query``: "Dune " and "dune" are
one query). The trend compares the period with the one of equal length just before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from django.db.models import Q, Sum

from analytics.models import SearchDay
from analytics.reports.export import CsvRow
from analytics.reports.period import check_limit, check_period, previous_period
from cloudshelf.db_router import reads_from_replica


@dataclass(frozen=True)
class SearchTrend(CsvRow):
    """One query: ``count`` in the period (searches, or zero-result searches), ``previous`` in the
    period before, and the change; ``change_ratio`` is ``None`` when the query is new."""

    csv_columns: ClassVar[tuple[str, ...]] = ("query", "count", "previous", "change", "change_ratio", "zero_results")

    query: str
    count: int
    previous: int
    zero_results: int

    @property
    def change(self) -> int:
        return self.count - self.previous

    @property
    def change_ratio(self) -> float | None:
        """``+0.5`` for half as many again as before; ``None`` for a query not searched before."""
        return (self.count - self.previous) / self.previous if self.previous else None

    @property
    def is_new(self) -> bool:
        return self.previous == 0


def _ranked(*, start: date, end: date, limit: int, counter: str) -> list[SearchTrend]:
    check_period(start=start, end=end)
    check_limit(limit)
    before_start, before_end = previous_period(start=start, end=end)
    rows = SearchDay.objects.filter(day__gte=start, day__lte=end)
    if counter == "zero_results":
        rows = rows.filter(zero_results__gt=0)
    with reads_from_replica():
        top = list(
            rows.values("query")
            .annotate(count=Sum(counter), zero=Sum("zero_results"))
            .order_by("-count", "query")[:limit]
        )
        queries = [row["query"] for row in top]
        before = (
            dict(
                SearchDay.objects.filter(Q(day__gte=before_start, day__lte=before_end), query__in=queries)
                .values("query")
                .annotate(count=Sum(counter))
                .order_by()
                .values_list("query", "count")
            )
            if queries
            else {}
        )
    return [
        SearchTrend(
            query=row["query"], count=row["count"], previous=before.get(row["query"], 0), zero_results=row["zero"]
        )
        for row in top
    ]


def top_searches(*, start: date, end: date, limit: int = 20) -> list[SearchTrend]:
    """The ``limit`` most searched queries, most first. Two queries (none for the trend when nothing was searched)."""
    return _ranked(start=start, end=end, limit=limit, counter="searches")


def zero_result_searches(*, start: date, end: date, limit: int = 20) -> list[SearchTrend]:
    """The ``limit`` queries that most often found nothing (``count`` counts those searches): what to stock or alias."""
    return _ranked(start=start, end=end, limit=limit, counter="zero_results")
