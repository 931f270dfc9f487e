"""Sales over time, by category and top sellers, on the hand-counted shop of conftest.py."""

from datetime import date
from decimal import Decimal

import pytest

from analytics.reports import CategorySales, SalesPeriod, TopSeller, sales_by_category, sales_over_time, top_sellers
from tests.analytics.reports.conftest import END, START


def test_sales_per_day_count_paid_and_shipped_orders_in_the_currency_every_day_listed(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = sales_over_time(start=START, end=END)

    assert [(row.period_start.day, row.orders, row.units, row.revenue) for row in rows] == [
        (2, 2, 4, Decimal("35.00")),
        (3, 0, 0, Decimal("0.00")),
        (4, 1, 3, Decimal("22.50")),
        (5, 0, 0, Decimal("0.00")),
        (6, 0, 0, Decimal("0.00")),
        (7, 0, 0, Decimal("0.00")),
        (8, 0, 0, Decimal("0.00")),
        (9, 0, 0, Decimal("0.00")),
        (10, 1, 2, Decimal("5.00")),
        (11, 0, 0, Decimal("0.00")),
    ]


def test_sales_per_week_start_on_monday(shop):
    assert sales_over_time(start=START, end=END, grain="week") == [
        SalesPeriod(period_start=date(2026, 11, 2), orders=3, units=7, revenue=Decimal("57.50")),
        SalesPeriod(period_start=date(2026, 11, 9), orders=1, units=2, revenue=Decimal("5.00")),
    ]


def test_a_week_cut_by_the_period_starts_at_the_periods_first_day_and_counts_only_its_days(shop):
    assert sales_over_time(start=date(2026, 11, 4), end=date(2026, 11, 9), grain="week") == [
        SalesPeriod(period_start=date(2026, 11, 4), orders=1, units=3, revenue=Decimal("22.50")),
        SalesPeriod(period_start=date(2026, 11, 9), orders=0, units=0, revenue=Decimal("0.00")),
    ]


def test_a_grain_other_than_day_or_week_is_refused(shop):
    with pytest.raises(ValueError, match="grain must be 'day' or 'week', not 'month'"):
        sales_over_time(start=START, end=END, grain="month")  # type: ignore[arg-type]


def test_sales_by_category_count_under_the_top_level_category(shop, django_assert_num_queries):
    with django_assert_num_queries(2):
        rows = sales_by_category(start=START, end=END)

    assert [(row.category, row.units, row.revenue, round(row.share, 4)) for row in rows] == [
        ("Fiction", 4, Decimal("35.00"), 0.56),
        ("Nonfiction", 3, Decimal("22.50"), 0.36),
        ("No category", 2, Decimal("5.00"), 0.08),
    ]
    assert rows[0].category_id == shop.dune.category.parent_id
    assert rows[2].category_id is None


def test_sales_by_category_of_a_period_without_sales_is_empty(shop):
    assert sales_by_category(start=date(2026, 11, 5), end=date(2026, 11, 9)) == []


def test_top_sellers_rank_by_copies_then_revenue_and_keep_deleted_books(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows = top_sellers(start=START, end=END, limit=10)

    assert [(row.title, row.orders, row.units, row.revenue) for row in rows] == [
        ("Dune", 2, 3, Decimal("30.00")),
        ("Cookbook", 1, 3, Decimal("22.50")),
        ("Emma", 1, 1, Decimal("5.00")),
        ("Gone Book", 1, 1, Decimal("3.00")),
        ("Loose", 1, 1, Decimal("2.00")),
    ]
    assert rows[0] == TopSeller(
        book_id=shop.dune.pk, isbn13=shop.dune.isbn13, title="Dune", orders=2, units=3, revenue=Decimal("30.00")
    )
    assert rows[3].book_id is None


def test_a_top_seller_renamed_since_it_sold_shows_its_title_today(shop):
    from catalog.models import Book

    Book.objects.filter(pk=shop.dune.pk).update(title="Dune (Revised)")

    assert top_sellers(start=START, end=END, limit=1)[0].title == "Dune (Revised)"


def test_top_sellers_stop_at_the_limit(shop):
    assert [row.title for row in top_sellers(start=START, end=END, limit=2)] == ["Dune", "Cookbook"]


@pytest.mark.parametrize("limit", [0, -1, 501, True, "5", 2.5])
def test_a_bad_limit_is_refused(shop, limit):
    from analytics.reports import ReportPeriodError

    with pytest.raises(ReportPeriodError, match="from 1 to 500"):
        top_sellers(start=START, end=END, limit=limit)


def test_sales_rows_export_to_csv(shop):
    from analytics.reports import csv_rows

    assert list(csv_rows(CategorySales, sales_by_category(start=START, end=END))) == [
        ["category", "units", "revenue", "share"],
        ["Fiction", "4", "35.00", "0.5600"],
        ["Nonfiction", "3", "22.50", "0.3600"],
        ["No category", "2", "5.00", "0.0800"],
    ]
    assert list(csv_rows(SalesPeriod, sales_over_time(start=START, end=START))) == [
        ["period_start", "orders", "units", "revenue"],
        ["2026-11-02", "2", "4", "35.00"],
    ]
