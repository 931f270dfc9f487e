"""Sales reports, read from the orders themselves (``cart.models``), the system of record.

A sale is an order whose payment went through and was not cancelled: status ``paid`` or
``shipped`` (``SOLD_STATUSES``), counted on the UTC day it was paid (``paid_at``). Only orders
in ``ANALYTICS_CURRENCY`` are counted, so revenue is one sum in one currency; an order in
another currency is left out of these reports (the catalog prices everything in one currency
today). Revenue is what the lines were sold for (unit price x quantity).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import ClassVar, Literal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Max, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from analytics.events import analytics_currency
from analytics.reports.export import CsvRow
from analytics.reports.period import check_limit, check_period, day_bounds
from cart.models import Order, OrderLine
from catalog.models import Category
from cloudshelf.db_router import reads_from_replica

SOLD_STATUSES = (Order.Status.PAID, Order.Status.SHIPPED)
Grain = Literal["day", "week"]
_ZERO = Decimal("0.00")
_LINE_TOTAL = ExpressionWrapper(
    F("unit_price") * F("quantity"), output_field=DecimalField(max_digits=14, decimal_places=2)
)


@dataclass(frozen=True)
class SalesPeriod(CsvRow):
    """One day, or one ISO week (Monday ``period_start``; the first and last weeks only count days in the period)."""

    csv_columns: ClassVar[tuple[str, ...]] = ("period_start", "orders", "units", "revenue")

    period_start: date
    orders: int
    units: int
    revenue: Decimal


@dataclass(frozen=True)
class CategorySales(CsvRow):
    """Sales of one top-level category (a book in ``fiction/fantasy`` counts for ``fiction``).

    ``category_id`` is ``None`` for books without a category or since deleted from the catalog.
    ``share`` is this category's fraction of the period's revenue (0..1).
    """

    csv_columns: ClassVar[tuple[str, ...]] = ("category", "units", "revenue", "share")

    category_id: int | None
    category: str
    units: int
    revenue: Decimal
    share: float


@dataclass(frozen=True)
class TopSeller(CsvRow):
    """One book by copies sold; the title and ISBN are the order lines' (a book since deleted still shows)."""

    csv_columns: ClassVar[tuple[str, ...]] = ("isbn13", "title", "orders", "units", "revenue")

    book_id: int | None
    isbn13: str
    title: str
    orders: int
    units: int
    revenue: Decimal


def _sold_lines(*, start: date, end: date) -> QuerySet[OrderLine]:
    since, until = day_bounds(start=start, end=end)
    return OrderLine.objects.filter(
        order__status__in=SOLD_STATUSES,
        order__currency=analytics_currency(),
        order__paid_at__gte=since,
        order__paid_at__lt=until,
    )


def sales_over_time(*, start: date, end: date, grain: Grain = "day") -> list[SalesPeriod]:
    """Orders, copies and revenue per day or per ISO week, every period included (zeros too). One query."""
    check_period(start=start, end=end)
    if grain not in ("day", "week"):
        raise ValueError(f"grain must be 'day' or 'week', not {grain!r}")
    with reads_from_replica():
        rows = (
            _sold_lines(start=start, end=end)
            .annotate(day=TruncDate("order__paid_at"))
            .values("day")
            .annotate(orders=Count("order_id", distinct=True), units=Sum("quantity"), revenue=Sum(_LINE_TOTAL))
            .order_by("day")
        )
        by_day = {row["day"]: row for row in rows}
    totals: dict[date, list[int | Decimal]] = defaultdict(lambda: [0, 0, _ZERO])
    day = start
    while day <= end:
        key = day if grain == "day" else day - timedelta(days=day.weekday())
        row = by_day.get(day)
        counts = totals[max(key, start)]
        if row:
            counts[0] += row["orders"]
            counts[1] += row["units"]
            counts[2] += row["revenue"]
        day += timedelta(days=1)
    return [
        SalesPeriod(period_start=key, orders=int(orders), units=int(units), revenue=Decimal(revenue).quantize(_ZERO))
        for key, (orders, units, revenue) in sorted(totals.items())
    ]


def sales_by_category(*, start: date, end: date) -> list[CategorySales]:
    """Copies and revenue per top-level category, highest revenue first. Two queries.

    Orders are not counted here: an order of books from two categories is a sale in each.
    """
    check_period(start=start, end=end)
    with reads_from_replica():
        rows = list(
            _sold_lines(start=start, end=end)
            .values("book__category_id")
            .annotate(units=Sum("quantity"), revenue=Sum(_LINE_TOTAL))
            .order_by()
        )
        categories = {pk: (path, name) for pk, path, name in Category.objects.values_list("pk", "path", "name")}
    roots = {path: (pk, name) for pk, (path, name) in categories.items() if "/" not in path}
    summed: dict[int | None, list[int | Decimal]] = defaultdict(lambda: [0, _ZERO])
    for row in rows:
        category = categories.get(row["book__category_id"])
        root = roots.get(category[0].split("/")[0]) if category else None
        counts = summed[root[0] if root else None]
        counts[0] += row["units"]
        counts[1] += row["revenue"]
    total = sum((revenue for _, revenue in summed.values()), _ZERO)
    names = dict(roots.values())
    result = [
        CategorySales(
            category_id=pk,
            category=names[pk] if pk is not None else "No category",
            units=int(units),
            revenue=Decimal(revenue).quantize(_ZERO),
            share=float(revenue / total) if total else 0.0,
        )
        for pk, (units, revenue) in summed.items()
    ]
    return sorted(result, key=lambda row: (-row.revenue, -row.units, row.category))


def top_sellers(*, start: date, end: date, limit: int = 20) -> list[TopSeller]:
    """The ``limit`` books that sold the most copies (then the most revenue). One query."""
    check_period(start=start, end=end)
    check_limit(limit)
    with reads_from_replica():
        rows = list(
            _sold_lines(start=start, end=end)
            .values("isbn13")
            .annotate(
                book_pk=Max("book_id"),
                # The book's title today; a deleted book's, one it was sold under.
                latest_title=Coalesce(Max("book__title"), Max("title")),
                orders=Count("order_id", distinct=True),
                units=Sum("quantity"),
                revenue=Sum(_LINE_TOTAL),
            )
            .order_by("-units", "-revenue", "isbn13")[:limit]
        )
    return [
        TopSeller(
            book_id=row["book_pk"],
            isbn13=row["isbn13"],
            title=row["latest_title"],
            orders=row["orders"],
            units=row["units"],
            revenue=Decimal(row["revenue"]).quantize(_ZERO),
        )
        for row in rows
    ]
