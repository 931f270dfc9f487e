"""Every report checks its period the same way, and reads from the replica when there is one."""

from datetime import date, datetime, timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics import reports
from analytics.reports import MAX_REPORT_DAYS, ReportPeriodError, check_period
from cloudshelf import db_router
from cloudshelf.db_router import ReplicaState

ALL_REPORTS = [
    reports.sales_over_time,
    reports.sales_by_category,
    reports.top_sellers,
    reports.top_searches,
    reports.zero_result_searches,
    reports.funnel,
    reports.funnel_by_day,
    reports.low_stock,
]


def test_a_period_counts_its_days_both_included():
    today = timezone.localdate()

    assert check_period(start=today, end=today) == 1
    assert check_period(start=today - timedelta(days=MAX_REPORT_DAYS - 1), end=today) == MAX_REPORT_DAYS


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2026, 11, 5), date(2026, 11, 4), r"The start \(2026-11-05\) is after the end \(2026-11-04\)"),
        (None, date(2026, 11, 4), "The start must be a date"),
        (date(2026, 11, 4), "2026-11-05", "The end must be a date"),
        (datetime(2026, 11, 4), date(2026, 11, 5), "The start must be a date"),
        (date(2025, 1, 1), date(2026, 11, 4), "The period is 673 days long; reports cover at most 400 days"),
    ],
)
def test_a_bad_period_is_refused_with_a_clear_message(start, end, message):
    with pytest.raises(ReportPeriodError, match=message):
        check_period(start=start, end=end)


def test_a_period_ending_in_the_future_is_refused():
    tomorrow = timezone.localdate() + timedelta(days=1)

    with pytest.raises(ReportPeriodError, match=rf"The end \({tomorrow}\) is in the future"):
        check_period(start=tomorrow, end=tomorrow)


@pytest.mark.django_db
@pytest.mark.parametrize("report", ALL_REPORTS, ids=lambda report: report.__name__)
def test_every_report_refuses_a_bad_period_before_any_query(report, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(ReportPeriodError):
        report(start=date(2026, 11, 5), end=date(2026, 11, 4))


@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
@pytest.mark.parametrize("report", ALL_REPORTS, ids=lambda report: report.__name__)
def test_every_report_reads_from_the_replica(report, monkeypatch):
    # Outside any transaction (a report page's GET), with the test database's real standby as the
    # replica. The router believes it current: its lag is the standby's, which another test (or
    # another xdist worker's, tests/ops/test_replica_standby.py) may hold back on purpose.
    monkeypatch.setattr(
        db_router, "replica_state", lambda: ReplicaState(is_up=True, lag_seconds=0.0, checked_at=float("inf"))
    )
    today = timezone.localdate()
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        report(start=today - timedelta(days=6), end=today)

    assert any("analytics_" in query["sql"] or "cart_order" in query["sql"] for query in on_replica.captured_queries)
