"""Beacons reach Postgres in batches (the ``rum`` stream's writer), and old ones are pruned."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics import buffer
from analytics.models import RumBeacon
from analytics.rum.beacons import validate
from analytics.rum.services import RUM_STREAM, rum_beacon_record, rum_beacons_delete_older_than, rum_beacons_write
from analytics.tasks import rum_beacons_prune
from tests.analytics.rum.conftest import HOME_BEACON, pending

pytestmark = pytest.mark.django_db


def payload(**changes):
    row = {
        "received_at": "2026-12-02T10:00:00+00:00",
        "route_name": "catalog:home",
        "route_class": "page",
        "ttfb_ms": 80.0,
        "dom_ready_ms": None,
        "load_ms": None,
        "lcp_ms": None,
        "inp_ms": None,
        "cls": None,
        "navigation_type": "",
        "effective_connection_type": "",
        "sample_rate": 0.1,
    }
    return row | changes


def test_a_burst_of_beacons_schedules_one_flush_that_writes_them_all(queued_flushes):
    for ttfb in (10, 20, 30):
        rum_beacon_record(beacon=validate(HOME_BEACON | {"ttfb": ttfb}))

    assert len(queued_flushes) == 1
    assert buffer.flush(stream=RUM_STREAM) == 3
    assert sorted(RumBeacon.objects.values_list("ttfb_ms", flat=True)) == [10.0, 20.0, 30.0]
    assert pending(RUM_STREAM) == []


def test_a_batch_is_one_insert(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert rum_beacons_write([payload(ttfb_ms=float(n)) for n in range(50)]) == 50

    assert RumBeacon.objects.count() == 50


def test_the_writer_drops_a_malformed_payload_and_keeps_the_others(caplog):
    caplog.set_level(logging.WARNING, logger="analytics.rum.services")
    bad = [
        payload(route_name="x" * 65),
        payload(ttfb_ms="fast"),
        payload(navigation_type="teleport"),
        payload(received_at="2026-12-02T10:00:00"),  # no time zone
        {"route_name": "catalog:home"},
    ]

    assert rum_beacons_write([payload(), *bad]) == 1

    assert RumBeacon.objects.values_list("route_name", "ttfb_ms").get() == ("catalog:home", 80.0)
    assert sum("dropped a malformed rum beacon" in record.message for record in caplog.records) == 5


def test_received_at_is_when_the_beacon_arrived():
    rum_beacon_record(beacon=validate(HOME_BEACON))
    before = timezone.now()

    buffer.flush(stream=RUM_STREAM)

    received_at = RumBeacon.objects.get().received_at
    assert before - timedelta(seconds=5) < received_at <= before


def beacon_at(days_ago: float) -> RumBeacon:
    return RumBeacon.objects.create(
        route_name="catalog:home",
        route_class="page",
        ttfb_ms=days_ago,
        sample_rate=1,
        received_at=timezone.now() - timedelta(days=days_ago),
    )


def test_the_prune_deletes_beacons_past_retention_only_in_batches():
    old = [beacon_at(31), beacon_at(40), beacon_at(400)]
    kept = [beacon_at(29.9), beacon_at(0)]

    assert rum_beacons_delete_older_than(days=30, batch_size=2) == len(old)

    assert sorted(RumBeacon.objects.values_list("pk", flat=True)) == sorted(beacon.pk for beacon in kept)


def test_the_daily_task_prunes_by_the_retention_setting_and_a_second_run_finds_nothing(settings):
    settings.RUM_RETENTION_DAYS = 7
    beacon_at(8)
    kept = beacon_at(6)

    assert rum_beacons_prune.apply().get() == 1
    assert rum_beacons_prune.apply().get() == 0
    assert list(RumBeacon.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.parametrize(("days", "batch_size"), [(0, 10), (30, 0), (-1, 5)])
def test_the_prune_refuses_a_retention_or_batch_below_one_and_deletes_nothing(days, batch_size):
    beacon_at(400)

    with pytest.raises(ValueError, match="must be at least 1"):
        rum_beacons_delete_older_than(days=days, batch_size=batch_size)

    assert RumBeacon.objects.count() == 1
