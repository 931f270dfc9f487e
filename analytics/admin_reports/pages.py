"""Which report pages there are, what each shows, and how its rows become a table, a chart and a CSV.

A page has one or more sections; a section is one report function of ``analytics.reports``
(on the replica) with the columns staff see, the chart drawn above them and the fields
summed under them. The CSV of a section is the report's own export (``csv_columns``,
formula-safe cells), so the file and the page never disagree about what a report is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.http import Http404

from analytics import reports
from analytics.admin_reports import charts
from analytics.admin_reports.forms import Period
from analytics.reports.export import CsvRow

TOP_ROWS = 20


@dataclass(frozen=True)
class Column:
    field: str
    heading: str
    kind: str = "text"  # text, int, money, percent, change, decimal, date

    def display(self, row: Any) -> str:
        return display(getattr(row, self.field), self.kind)


def display(value: Any, kind: str) -> str:
    """A table cell as staff read it: thousands separated, money to the cent, rates in per cent."""
    if value is None:
        return "\N{EN DASH}"
    if kind == "int":
        return f"{value:,}"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "decimal":
        return f"{value:,.1f}"
    if kind == "percent":
        return f"{100 * value:.1f} %"
    if kind == "change":
        return f"{value:+,}"
    if kind == "date":
        return str(value.isoformat())
    return str(value)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    fetch: Callable[[Period, str], Sequence[CsvRow]]
    row_type: type[CsvRow]
    columns: tuple[Column, ...]
    chart: str = ""  # "columns", "bars", "funnel" or "" (table only)
    chart_label: str = ""  # the field naming each bar
    chart_value: str = ""  # the field a bar's length shows
    chart_value_format: str = "{:,.0f}"
    totals: tuple[str, ...] = ()  # fields summed in a row under the table
    note: str = ""

    def is_empty(self, rows: Sequence[Any]) -> bool:
        """No rows, or rows whose every figure is zero (a report that lists every day or stage has
        rows anyway). Every column counts, not only the charted one: days with orders but no
        counted views (JavaScript off) still have a funnel to show."""
        if not rows:
            return True
        if not self.chart_value:
            return False
        for row in rows:
            for column in self.columns:
                value = getattr(row, column.field, None)
                if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value:
                    return False
        return True

    def table(self, rows: Sequence[Any]) -> list[list[str]]:
        return [[column.display(row) for column in self.columns] for row in rows]

    def total_row(self, rows: Sequence[Any]) -> list[str] | None:
        """The totals line: sums under the summed columns, "Total" in the first, blank elsewhere."""
        if not self.totals:
            return None
        cells = []
        for index, column in enumerate(self.columns):
            if column.field in self.totals:
                cells.append(display(sum(getattr(row, column.field) for row in rows), column.kind))
            else:
                cells.append("Total" if index == 0 else "")
        return cells

    def draw(self, rows: Sequence[Any]) -> Any:
        """The chart's geometry (``analytics.admin_reports.charts``), or None for a table-only section."""
        if not self.chart:
            return None
        points = [(str(getattr(row, self.chart_label)), float(getattr(row, self.chart_value))) for row in rows]
        if self.chart == "columns":
            return charts.column_chart(points, value_format=self.chart_value_format)
        if self.chart == "bars":
            return charts.bar_list(points, value_format=self.chart_value_format)
        if self.chart == "funnel":
            return charts.funnel_chart([(label, int(value)) for label, value in points])
        return None


@dataclass(frozen=True)
class ReportPage:
    slug: str
    title: str
    description: str
    sections: tuple[Section, ...]
    has_grain: bool = False

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise Http404("No such report")


def _sales_columns(first: Column) -> tuple[Column, ...]:
    return (
        first,
        Column("orders", "Orders", "int"),
        Column("units", "Copies", "int"),
        Column("revenue", "Revenue", "money"),
    )


PAGES: tuple[ReportPage, ...] = (
    ReportPage(
        slug="sales",
        title="Sales",
        description="Orders, copies and revenue per day or week, with the period's totals.",
        has_grain=True,
        sections=(
            Section(
                key="sales",
                title="Revenue over time",
                fetch=lambda period, grain: reports.sales_over_time(start=period.start, end=period.end, grain=grain),  # type: ignore[arg-type]
                row_type=reports.SalesPeriod,
                columns=_sales_columns(Column("period_start", "Day or week from", "date")),
                chart="columns",
                chart_label="period_start",
                chart_value="revenue",
                chart_value_format="{:,.2f}",
                totals=("orders", "units", "revenue"),
                note="A sale is a paid or shipped order, on the day it was paid (UTC).",
            ),
        ),
    ),
    ReportPage(
        slug="categories",
        title="Sales by category",
        description="Copies and revenue per top-level category, and each one's share of revenue.",
        sections=(
            Section(
                key="categories",
                title="Revenue by category",
                fetch=lambda period, grain: reports.sales_by_category(start=period.start, end=period.end),
                row_type=reports.CategorySales,
                columns=(
                    Column("category", "Category"),
                    Column("units", "Copies", "int"),
                    Column("revenue", "Revenue", "money"),
                    Column("share", "Share of revenue", "percent"),
                ),
                chart="bars",
                chart_label="category",
                chart_value="revenue",
                chart_value_format="{:,.2f}",
                totals=("units", "revenue"),
            ),
        ),
    ),
    ReportPage(
        slug="top-sellers",
        title="Top sellers",
        description=f"The {TOP_ROWS} books that sold the most copies.",
        sections=(
            Section(
                key="top-sellers",
                title="Copies sold",
                fetch=lambda period, grain: reports.top_sellers(start=period.start, end=period.end, limit=TOP_ROWS),
                row_type=reports.TopSeller,
                columns=(
                    Column("title", "Title"),
                    Column("isbn13", "ISBN"),
                    Column("orders", "Orders", "int"),
                    Column("units", "Copies", "int"),
                    Column("revenue", "Revenue", "money"),
                ),
                chart="bars",
                chart_label="title",
                chart_value="units",
            ),
        ),
    ),
    ReportPage(
        slug="searches",
        title="Searches",
        description="The most searched queries and those that found nothing, against the period before.",
        sections=tuple(
            Section(
                key=key,
                title=title,
                fetch=fetch,
                row_type=reports.SearchTrend,
                columns=(
                    Column("query", "Query"),
                    Column("count", heading, "int"),
                    Column("previous", "Period before", "int"),
                    Column("change", "Change", "change"),
                    Column("change_ratio", "Change %", "percent"),
                    Column("zero_results", "Found nothing", "int"),
                ),
                chart="bars",
                chart_label="query",
                chart_value="count",
                note="Queries are normalized: trimmed, lower case, spaces collapsed.",
            )
            for key, title, heading, fetch in (
                (
                    "top-searches",
                    "Top searches",
                    "Searches",
                    lambda period, grain: reports.top_searches(start=period.start, end=period.end, limit=TOP_ROWS),
                ),
                (
                    "zero-result-searches",
                    "Searches that found nothing",
                    "Searches with no result",
                    lambda period, grain: reports.zero_result_searches(
                        start=period.start, end=period.end, limit=TOP_ROWS
                    ),
                ),
            )
        ),
    ),
    ReportPage(
        slug="funnel",
        title="Funnel",
        description="Product views → add to cart → checkout started → order placed, with conversion rates.",
        sections=(
            Section(
                key="funnel",
                title="Conversion",
                fetch=lambda period, grain: reports.funnel(start=period.start, end=period.end),
                row_type=reports.FunnelStage,
                columns=(
                    Column("label", "Stage"),
                    Column("count", "Count", "int"),
                    Column("rate_from_previous", "From the stage before", "percent"),
                    Column("rate_from_first", "From product views", "percent"),
                ),
                chart="funnel",
                chart_label="label",
                chart_value="count",
                note="Counts of events, not of visitors: two views of one book by one shopper are two views.",
            ),
            Section(
                key="funnel-by-day",
                title="Each day",
                fetch=lambda period, grain: reports.funnel_by_day(start=period.start, end=period.end),
                row_type=reports.FunnelDay,
                columns=(
                    Column("day", "Day", "date"),
                    Column("views", "Product views", "int"),
                    Column("adds", "Added to cart", "int"),
                    Column("checkouts", "Checkouts started", "int"),
                    Column("orders", "Orders placed", "int"),
                ),
                chart="columns",
                chart_label="day",
                chart_value="views",
                totals=("views", "adds", "checkouts", "orders"),
            ),
        ),
    ),
    ReportPage(
        slug="low-stock",
        title="Stock running low",
        description="Books at or under the stock threshold, with their pace of sales and the days of stock left.",
        sections=(
            Section(
                key="low-stock",
                title="Books to reorder",
                fetch=lambda period, grain: reports.low_stock(start=period.start, end=period.end),
                row_type=reports.LowStockBook,
                columns=(
                    Column("title", "Title"),
                    Column("isbn13", "ISBN"),
                    Column("stock", "In stock", "int"),
                    Column("units_sold", "Sold in the period", "int"),
                    Column("per_day", "Per day", "decimal"),
                    Column("days_of_cover", "Days of stock left", "decimal"),
                ),
                note="Pace is the period's sales per day; days of stock left is stock over that pace.",
            ),
        ),
    ),
)


def page_of(slug: str) -> ReportPage:
    """The report page at ``/admin/reports/<slug>/``, or 404."""
    for page in PAGES:
        if page.slug == slug:
            return page
    raise Http404("No such report")
