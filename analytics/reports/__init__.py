"""Staff reports: plain keyword-only functions over a period, read from the replica.

Each takes ``start`` and ``end`` (dates, both included, UTC days; ``check_period`` refuses a
period that ends in the future, runs backwards or is longer than ``MAX_REPORT_DAYS``) and
returns a list of frozen dataclasses whose ``csv_columns`` and ``csv_row()`` give the CSV
export (``analytics.reports.export.csv_rows``). Definitions are in docs/observability.md.
"""

from analytics.reports.export import csv_rows
from analytics.reports.funnel import FunnelDay, FunnelStage, funnel, funnel_by_day
from analytics.reports.period import MAX_REPORT_DAYS, ReportPeriodError, check_period
from analytics.reports.sales import (
    SOLD_STATUSES,
    CategorySales,
    SalesPeriod,
    TopSeller,
    sales_by_category,
    sales_over_time,
    top_sellers,
)
from analytics.reports.searches import SearchTrend, top_searches, zero_result_searches
from analytics.reports.stock import LowStockBook, low_stock

__all__ = [
    "MAX_REPORT_DAYS",
    "SOLD_STATUSES",
    "CategorySales",
    "FunnelDay",
    "FunnelStage",
    "LowStockBook",
    "ReportPeriodError",
    "SalesPeriod",
    "SearchTrend",
    "TopSeller",
    "check_period",
    "csv_rows",
    "funnel",
    "funnel_by_day",
    "low_stock",
    "sales_by_category",
    "sales_over_time",
    "top_searches",
    "top_sellers",
    "zero_result_searches",
]
