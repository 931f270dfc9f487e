"""``rum_percentiles``: p50/p95/p99 of real users' timings per route class and metric, on a known fixture."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics.metrics.store import RoutePercentiles
from analytics.models import RumBeacon
from analytics.rum import selectors
from analytics.rum.selectors import percentile_cont, rum_percentiles

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_of_beacons():
    """Pages: ttfb 0..100 ms (101 beacons), LCP on the even ones only, CLS 0.01 each, no INP.
    Search: one beacon. And an old page beacon (two days ago) that no window of a day includes."""
    now = timezone.now()
    rows = [
        RumBeacon(
            route_name="catalog:home",
            route_class="page",
            ttfb_ms=float(n),
            lcp_ms=float(10 * n) if n % 2 == 0 else None,
            cls=0.01,
            sample_rate=0.1,
            received_at=now - timedelta(minutes=n),
        )
        for n in range(101)
    ]
    rows.append(
        RumBeacon(route_name="search:results", route_class="search", load_ms=1234.5, sample_rate=1, received_at=now)
    )
    rows.append(
        RumBeacon(
            route_name="catalog:home",
            route_class="page",
            ttfb_ms=99_999,
            sample_rate=1,
            received_at=now - timedelta(days=2),
        )
    )
    RumBeacon.objects.bulk_create(rows)
    return now


def test_percentiles_per_route_class_and_metric_over_the_window(day_of_beacons):
    found = rum_percentiles(since=day_of_beacons - timedelta(days=1))

    assert list(found) == ["page", "search"]
    page = found["page"]
    assert list(page) == ["ttfb", "dom_ready", "load", "lcp", "inp", "cls"]
    assert page["ttfb"] == RoutePercentiles(
        route_class="page", count=101, errors=0, p50_ms=50.0, p95_ms=95.0, p99_ms=99.0
    )
    # LCP of the 51 even beacons: 0, 20, ..., 1000.
    assert page["lcp"] == RoutePercentiles(
        route_class="page", count=51, errors=0, p50_ms=500.0, p95_ms=950.0, p99_ms=990.0
    )
    assert page["inp"] == RoutePercentiles(route_class="page", count=0, errors=0, p50_ms=None, p95_ms=None, p99_ms=None)
    assert (page["cls"].count, page["cls"].p50_ms, page["cls"].p99_ms) == (101, 0.01, 0.01)
    assert found["search"]["load"] == RoutePercentiles(
        route_class="search", count=1, errors=0, p50_ms=1234.5, p95_ms=1234.5, p99_ms=1234.5
    )
    assert found["search"]["ttfb"].count == 0


def test_the_window_starts_at_since(day_of_beacons):
    last_hour = rum_percentiles(since=day_of_beacons - timedelta(minutes=60))

    # Beacons 0..60 minutes old: ttfb 0..60.
    assert last_hour["page"]["ttfb"] == RoutePercentiles(
        route_class="page", count=61, errors=0, p50_ms=30.0, p95_ms=57.0, p99_ms=59.4
    )


def test_no_beacons_is_an_empty_answer():
    assert rum_percentiles(since=timezone.now() - timedelta(days=1)) == {}


def test_one_statement_whatever_the_classes_and_metrics(day_of_beacons, django_assert_num_queries):
    with django_assert_num_queries(1):
        rum_percentiles(since=day_of_beacons - timedelta(days=1))


def test_the_python_fallback_gives_what_postgres_gives(day_of_beacons):
    since = day_of_beacons - timedelta(days=1)

    in_python = sorted(selectors._python_rows(connection.alias, since))
    in_postgres = sorted(selectors._postgres_rows(connection.alias, since))

    assert in_python == in_postgres


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.99, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),
        ([0.0, 10.0], 0.95, 9.5),
        ([5.0, 1.0, 3.0], 0.0, 1.0),
        ([5.0, 1.0, 3.0], 1.0, 5.0),
    ],
)
def test_percentile_cont_interpolates_between_the_nearest_ranks(values, fraction, expected):
    assert percentile_cont(values, fraction) == expected


# Outside a transaction (a test transaction keeps every read on the primary).
@pytest.mark.django_db(transaction=True, databases=["default", "replica"])
def test_the_report_reads_on_the_replica_while_it_is_usable(monkeypatch):
    from cloudshelf import db_router

    monkeypatch.setattr(db_router, "replica_state", lambda: db_router.ReplicaState(True, 0.1, float("inf")))
    asked = []
    monkeypatch.setattr(selectors, "_postgres_rows", lambda alias, since: asked.append(alias) or [])

    rum_percentiles(since=timezone.now())

    assert asked == [db_router.REPLICA_DB_ALIAS]
