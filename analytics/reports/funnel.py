"""The view → add to cart → checkout → order funnel, from the daily totals (``SiteDay``).

Counts of events, not of visitors: three views of one book by one visitor are three views, and
an order placed today may come from a view last week. The rates say how the stages compare
over a period, not what share of visitors went on (that would need a visitor id on every
event, which analytics does not keep). A checkout started is an order created from a cart
(stock reserved, before payment); an order placed is one whose payment went through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar

from django.db.models import Sum

from analytics.models import SiteDay
from analytics.reports.export import CsvRow
from analytics.reports.period import check_period
from cloudshelf.db_router import reads_from_replica

STAGES = (
    ("views", "Product views"),
    ("adds", "Added to cart"),
    ("checkouts", "Checkout started"),
    ("orders", "Order placed"),
)


@dataclass(frozen=True)
class FunnelStage(CsvRow):
    """One stage: its count, and that count over the stage before (``None`` for the first, or when
    the stage before counted nothing) and over the first stage."""

    csv_columns: ClassVar[tuple[str, ...]] = ("stage", "label", "count", "rate_from_previous", "rate_from_first")

    stage: str
    label: str
    count: int
    rate_from_previous: float | None
    rate_from_first: float | None


@dataclass(frozen=True)
class FunnelDay(CsvRow):
    """The four stages' counts on one day (every day of the period, zeros included)."""

    csv_columns: ClassVar[tuple[str, ...]] = ("day", "views", "adds", "checkouts", "orders")

    day: date
    views: int
    adds: int
    checkouts: int
    orders: int


def funnel(*, start: date, end: date) -> list[FunnelStage]:
    """The four stages summed over the period, in funnel order. One query."""
    check_period(start=start, end=end)
    with reads_from_replica():
        totals = SiteDay.objects.filter(day__gte=start, day__lte=end).aggregate(
            **{name: Sum(name) for name, _ in STAGES}
        )
    counts = [int(totals[name] or 0) for name, _ in STAGES]
    return [
        FunnelStage(
            stage=name,
            label=label,
            count=count,
            rate_from_previous=count / counts[index - 1] if index and counts[index - 1] else None,
            rate_from_first=count / counts[0] if counts[0] else None,
        )
        for index, ((name, label), count) in enumerate(zip(STAGES, counts, strict=True))
    ]


def funnel_by_day(*, start: date, end: date) -> list[FunnelDay]:
    """The four stages per day, for a chart. One query."""
    check_period(start=start, end=end)
    with reads_from_replica():
        rows = {row.day: row for row in SiteDay.objects.filter(day__gte=start, day__lte=end).only("day", *dict(STAGES))}
    result = []
    day = start
    while day <= end:
        row = rows.get(day)
        result.append(
            FunnelDay(
                day=day,
                views=row.views if row else 0,
                adds=row.adds if row else 0,
                checkouts=row.checkouts if row else 0,
                orders=row.orders if row else 0,
            )
        )
        day += timedelta(days=1)
    return result
