"""Books running low, with how fast they sell and how many days the stock on hand lasts at that pace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from django.db.models import Max, Sum

from analytics.reports.export import CsvRow
from analytics.reports.period import ReportPeriodError, check_limit, check_period
from analytics.reports.sales import _sold_lines
from catalog.models import Book, Inventory
from cloudshelf.db_router import reads_from_replica

DEFAULT_THRESHOLD = 5
MAX_THRESHOLD = 100_000


@dataclass(frozen=True)
class LowStockBook(CsvRow):
    """A book at or under the threshold. ``units_sold`` in the period (sales as in ``sales``),
    ``per_day`` = units sold / days in the period, ``days_of_cover`` = stock / per day (``None``
    when it did not sell: no pace to run out at)."""

    csv_columns: ClassVar[tuple[str, ...]] = (
        "isbn13",
        "title",
        "stock",
        "units_sold",
        "per_day",
        "days_of_cover",
    )

    book_id: int
    isbn13: str
    title: str
    stock: int
    units_sold: int
    per_day: float
    days_of_cover: float | None


def low_stock(*, start: date, end: date, threshold: int = DEFAULT_THRESHOLD, limit: int = 100) -> list[LowStockBook]:
    """Books with stock at or under ``threshold``, the soonest to run out first; books that did not
    sell in the period come after, fewest in stock first.

    Three queries at most, whatever the number of low books (a large catalog has thousands): the
    low books that sold, then only as many of the others as the page still needs, then the titles.
    """
    days = check_period(start=start, end=end)
    check_limit(limit)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= MAX_THRESHOLD:
        raise ReportPeriodError(f"The stock threshold must be from 0 to {MAX_THRESHOLD}.")
    with reads_from_replica():
        selling = [
            (book_id, int(stock), int(units))
            for book_id, stock, units in _sold_lines(start=start, end=end)
            .filter(book__inventory__stock_on_hand__lte=threshold)
            .values("book_id")
            .annotate(stock=Max("book__inventory__stock_on_hand"), units=Sum("quantity"))
            .order_by()
            .values_list("book_id", "stock", "units")
        ]
        selling.sort(key=lambda row: (row[1] / row[2], row[1], row[0]))  # days of cover, stock, id
        chosen = selling[:limit]
        if len(chosen) < limit:
            idle = (
                Inventory.objects.filter(stock_on_hand__lte=threshold)
                .exclude(book_id__in=[row[0] for row in selling])
                .order_by("stock_on_hand", "book_id")
                .values_list("book_id", "stock_on_hand")[: limit - len(chosen)]
            )
            chosen += [(book_id, stock, 0) for book_id, stock in idle]
        books = {
            pk: (isbn13, title)
            for pk, isbn13, title in Book.objects.filter(pk__in=[row[0] for row in chosen]).values_list(
                "pk", "isbn13", "title"
            )
        }
    return [
        LowStockBook(
            book_id=book_id,
            isbn13=books[book_id][0],
            title=books[book_id][1],
            stock=stock,
            units_sold=units,
            per_day=units / days,
            days_of_cover=stock / (units / days) if units else None,
        )
        for book_id, stock, units in chosen
        if book_id in books
    ]
