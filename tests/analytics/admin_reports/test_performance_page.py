"""The performance page: p50/p95/p99 per route class against the service levels, marked met or missed."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from analytics.admin_reports import performance
from analytics.admin_reports.performance import LevelRow, real_user_rows, server_rows
from analytics.metrics import store
from analytics.metrics.store import RoutePercentiles
from analytics.models import RumBeacon
from tests.analytics.admin_reports.page_tables import section_html, table_rows

DASH = "\N{EN DASH}"  # a figure without data


def percentiles(route_class, p50, p95, p99, count=100):
    return RoutePercentiles(route_class=route_class, count=count, errors=0, p50_ms=p50, p95_ms=p95, p99_ms=p99)


KNOWN_SERVER = {
    "page": percentiles("page", 120.0, 1850.0, 2600.0),  # met
    "search": percentiles("search", 90.0, 640.0, 900.0),  # missed
    "cart": percentiles("cart", 20.0, 199.5, 410.0),  # met, just
    "admin": percentiles("admin", 60.0, 300.0, 700.0, count=8),  # no level
}
KNOWN_REAL_USERS = {
    "page": {
        "load": percentiles("page", 800.0, 2400.0, 3100.0, count=40),  # missed: page load over 2 s
        "ttfb": percentiles("page", 80.0, 300.0, 500.0, count=40),  # met
        "cls": percentiles("page", 0.01, 0.12, 0.3, count=40),
        "inp": percentiles("page", 0, None, None, count=0),  # no browser measured it: not shown
    },
    "cart": {"ttfb": percentiles("cart", 60.0, 250.0, 400.0, count=5)},  # missed against the cart's 200 ms
}


@pytest.fixture
def known_percentiles(monkeypatch):
    monkeypatch.setattr(performance, "server_percentiles", lambda *, minutes, now: KNOWN_SERVER)
    monkeypatch.setattr(performance, "rum_percentiles", lambda *, since: KNOWN_REAL_USERS)


def test_server_rows_put_the_four_levels_first_and_judge_the_p95():
    rows = server_rows(KNOWN_SERVER)
    assert [(row.route_class, row.level_ms, row.is_met) for row in rows] == [
        ("page", 2000, True),
        ("search", 500, False),
        ("cart", 200, True),
        ("api", 1000, None),  # no requests
        ("admin", None, None),
        ("static", None, None),
        ("health", None, None),
        ("other", None, None),
    ]


def test_real_users_page_load_is_held_to_two_seconds_and_first_byte_to_the_class_level():
    rows = real_user_rows(KNOWN_REAL_USERS)
    assert [(row.route_class, row.measure, row.level_ms, row.is_met) for row in rows] == [
        ("cart", "Time to first byte", 200, False),
        ("page", "Page load", 2000, False),
        ("page", "Time to first byte", 2000, True),
        ("page", "Cumulative layout shift", None, None),
    ]


def test_figures_are_whole_milliseconds_and_layout_shift_is_unitless():
    assert LevelRow("page", "Page load", 3, 812.4, 1999.6, None, 2000).figures == ("812 ms", "2,000 ms", DASH)
    assert LevelRow("page", "Cumulative layout shift", 3, 0.01, 0.12, 0.3, None, is_unitless=True).figures == (
        "0.010",
        "0.120",
        "0.300",
    )


def test_the_page_marks_each_known_p95_met_or_missed_in_both_windows(reports_client, known_percentiles):
    html = reports_client.get("/admin/reports/performance/").content.decode()
    for minutes in (60, 1440):
        window = section_html(html, str(minutes))
        rows = table_rows(window)
        assert rows[0] == ["Route class", "Measure", "Count", "p50", "p95", "p99", "Level (p95)", "Verdict"]
        assert ["page", "Server response", "100", "120 ms", "1,850 ms", "2,600 ms", "2000 ms", "met"] in rows
        assert ["search", "Server response", "100", "90 ms", "640 ms", "900 ms", "500 ms", "missed"] in rows
        assert ["cart", "Server response", "100", "20 ms", "200 ms", "410 ms", "200 ms", "met"] in rows
        assert ["api", "Server response", "0", DASH, DASH, DASH, "1000 ms", "no data"] in rows
        assert ["admin", "Server response", "8", "60 ms", "300 ms", "700 ms", DASH, "no level"] in rows
        assert ["page", "Page load", "40", "800 ms", "2,400 ms", "3,100 ms", "2000 ms", "missed"] in rows
        assert ["cart", "Time to first byte", "5", "60 ms", "250 ms", "400 ms", "200 ms", "missed"] in rows
        assert ["page", "Cumulative layout shift", "40", "0.010", "0.120", "0.300", DASH, "no level"] in rows
        # The charts: one bar per judged line (4 of the servers, 3 of real users), each with its level line.
        assert window.count('class="chart-level"') == 4 + 3
        assert "cart · first byte" in window
        assert "1,850 ms · met" in window
        assert "640 ms · missed" in window
    assert "Last hour" in html
    assert "Last day" in html


def test_without_measurements_the_page_says_there_is_no_data(reports_client, monkeypatch):
    empty = {name: percentiles(name, None, None, None, count=0) for name in ("page", "search", "cart", "api")}
    monkeypatch.setattr(performance, "server_percentiles", lambda *, minutes, now: empty)
    monkeypatch.setattr(performance, "rum_percentiles", lambda *, since: {})
    html = reports_client.get("/admin/reports/performance/").content.decode()
    assert section_html(html, "60").count("No data in this period.") == 2
    assert '<svg class="chart' not in html


def test_real_measurements_reach_the_page_from_the_store_and_the_beacons(reports_client, db):
    # The real path: request timings through the Redis store, beacons through Postgres.
    now = time.time()
    for duration in [40.0] * 19 + [90.0]:
        store.observe_request(route_class="cart", duration_ms=duration, is_error=False, at=now)
    for duration in [900.0] * 20:
        store.observe_request(route_class="search", duration_ms=duration, is_error=False, at=now)
    store.flush()
    an_hour_and_a_half_ago = timezone.now() - dt.timedelta(minutes=90)
    RumBeacon.objects.bulk_create(
        [RumBeacon(route_name="catalog:home", route_class="page", load_ms=1200.0, ttfb_ms=100.0, sample_rate=1.0)] * 3
        + [
            RumBeacon(
                route_name="catalog:home",
                route_class="page",
                load_ms=5000.0,
                sample_rate=1.0,
                received_at=an_hour_and_a_half_ago,
            )
        ]
    )
    html = reports_client.get("/admin/reports/performance/").content.decode()
    hour, day = table_rows(section_html(html, "60")), table_rows(section_html(html, "1440"))
    verdicts = {(row[0], row[1]): (row[2], row[-1]) for row in hour[1:]}
    assert verdicts[("cart", "Server response")] == ("20", "met")
    assert verdicts[("search", "Server response")] == ("20", "missed")
    assert verdicts[("page", "Page load")] == ("3", "met")  # 1.2 s for every beacon of the hour
    day_verdicts = {(row[0], row[1]): (row[2], row[-1]) for row in day[1:]}
    assert day_verdicts[("page", "Page load")] == ("4", "missed")  # the 5 s load 90 minutes ago counts in the day
