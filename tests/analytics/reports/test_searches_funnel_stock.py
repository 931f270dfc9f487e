"""Search reports with trends, the funnel and low stock, on hand-counted rows (conftest.py)."""

from datetime import date

import pytest

from analytics.reports import (
    FunnelDay,
    FunnelStage,
    LowStockBook,
    ReportPeriodError,
    SearchTrend,
    csv_rows,
    funnel,
    funnel_by_day,
    low_stock,
    top_searches,
    zero_result_searches,
)
from tests.analytics.reports.conftest import END, START


def test_top_searches_are_counted_with_the_previous_period_for_the_trend(searches, django_assert_num_queries):
    with django_assert_num_queries(2):
        rows = top_searches(start=START, end=END)

    assert rows == [
        SearchTrend(query="dune", count=8, previous=2, zero_results=0),
        SearchTrend(query="emma", count=8, previous=0, zero_results=0),
        SearchTrend(query="dnue", count=4, previous=1, zero_results=4),
    ]
    assert [(row.change, row.change_ratio, row.is_new) for row in rows] == [
        (6, 3.0, False),
        (8, None, True),
        (3, 3.0, False),
    ]


def test_zero_result_searches_count_only_searches_that_found_nothing(searches, django_assert_num_queries):
    with django_assert_num_queries(2):
        rows = zero_result_searches(start=START, end=END)

    assert rows == [SearchTrend(query="dnue", count=4, previous=1, zero_results=4)]


def test_a_period_without_searches_costs_one_query(searches, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert top_searches(start=date(2026, 11, 6), end=date(2026, 11, 9)) == []


def test_search_reports_stop_at_the_limit(searches):
    assert [row.query for row in top_searches(start=START, end=END, limit=1)] == ["dune"]


def test_a_hostile_query_is_exported_as_text_not_as_a_formula(db):
    from analytics.models import SearchDay

    SearchDay.objects.create(day=START, query='=hyperlink("http://evil","x")', searches=3)
    SearchDay.objects.create(day=START, query="-1+1", searches=2)

    assert list(csv_rows(SearchTrend, top_searches(start=START, end=END))) == [
        ["query", "count", "previous", "change", "change_ratio", "zero_results"],
        ['\'=hyperlink("http://evil","x")', "3", "0", "3", "", "0"],
        ["'-1+1", "2", "0", "2", "", "0"],
    ]


def test_the_funnel_sums_the_days_and_gives_each_stages_rate(site_days, django_assert_num_queries):
    with django_assert_num_queries(1):
        stages = funnel(start=START, end=END)

    assert [(stage.stage, stage.count) for stage in stages] == [
        ("views", 150),
        ("adds", 30),
        ("checkouts", 10),
        ("orders", 6),
    ]
    assert [stage.rate_from_previous for stage in stages] == [None, 0.2, pytest.approx(1 / 3), 0.6]
    assert [stage.rate_from_first for stage in stages] == [1.0, 0.2, pytest.approx(10 / 150), 0.04]


def test_an_empty_funnel_has_no_rates(db):
    assert funnel(start=START, end=END) == [
        FunnelStage(stage="views", label="Product views", count=0, rate_from_previous=None, rate_from_first=None),
        FunnelStage(stage="adds", label="Added to cart", count=0, rate_from_previous=None, rate_from_first=None),
        FunnelStage(
            stage="checkouts", label="Checkout started", count=0, rate_from_previous=None, rate_from_first=None
        ),
        FunnelStage(stage="orders", label="Order placed", count=0, rate_from_previous=None, rate_from_first=None),
    ]


def test_the_funnel_by_day_lists_every_day(site_days, django_assert_num_queries):
    with django_assert_num_queries(1):
        days = funnel_by_day(start=date(2026, 11, 1), end=date(2026, 11, 3))

    assert days == [
        FunnelDay(day=date(2026, 11, 1), views=0, adds=0, checkouts=0, orders=0),
        FunnelDay(day=date(2026, 11, 2), views=100, adds=20, checkouts=5, orders=4),
        FunnelDay(day=date(2026, 11, 3), views=50, adds=10, checkouts=5, orders=2),
    ]


def test_low_stock_lists_the_soonest_to_run_out_first(shop, django_assert_num_queries):
    with django_assert_num_queries(3):  # the low books that sold, the others the page needs, their titles
        rows = low_stock(start=START, end=END, threshold=5)

    assert [(row.title, row.stock, row.units_sold, row.per_day, row.days_of_cover) for row in rows] == [
        ("Emma", 0, 1, 0.1, 0.0),
        ("Dune", 3, 3, 0.3, 10.0),
        ("Loose", 5, 1, 0.1, 50.0),
        ("Quiet", 1, 0, 0.0, None),
    ]


def test_low_stock_takes_a_threshold_and_a_limit(shop, django_assert_num_queries):
    assert [row.title for row in low_stock(start=START, end=END, threshold=0)] == ["Emma"]
    with django_assert_num_queries(2):  # the books that sold fill the page: no query for the others
        assert [row.title for row in low_stock(start=START, end=END, threshold=5, limit=2)] == ["Emma", "Dune"]


@pytest.mark.parametrize("threshold", [-1, 100_001, True, "5"])
def test_a_bad_threshold_is_refused(shop, threshold):
    with pytest.raises(ReportPeriodError, match="threshold must be from 0 to 100000"):
        low_stock(start=START, end=END, threshold=threshold)


def test_low_stock_exports_to_csv(shop):
    rows = low_stock(start=START, end=END, threshold=3)

    assert list(csv_rows(LowStockBook, rows)) == [
        ["isbn13", "title", "stock", "units_sold", "per_day", "days_of_cover"],
        [shop.emma.isbn13, "Emma", "0", "1", "0.1000", "0.0000"],
        [shop.dune.isbn13, "Dune", "3", "3", "0.3000", "10.0000"],
        [shop.quiet.isbn13, "Quiet", "1", "0", "0.0000", ""],
    ]


def test_an_empty_report_still_exports_its_header(db):
    assert list(csv_rows(FunnelDay, [])) == [["day", "views", "adds", "checkouts", "orders"]]
