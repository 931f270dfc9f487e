"""Celery beat's schedule (CELERY_BEAT_SCHEDULE) and the clean-up jobs it sends."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from analytics.models import SearchLog
from analytics.tasks import search_logs_delete_older_than, search_logs_prune
from cloudshelf.celery import app as celery_app
from cloudshelf.tasks import sessions_clear_expired

pytestmark = pytest.mark.django_db


def search_log(*, days_ago: float) -> SearchLog:
    return SearchLog.objects.create(
        query="dune",
        result_count=1,
        latency_ms=1.0,
        is_zero_result=False,
        backend="opensearch",
        searched_at=timezone.now() - timedelta(days=days_ago),
    )


def test_beat_sends_the_clean_up_jobs_and_the_search_snapshot_at_their_intervals():
    schedule = {entry["task"]: entry["schedule"] for entry in celery_app.conf.beat_schedule.values()}

    assert set(schedule) == {
        "cart.tasks.orders_reconcile_pending",
        "cart.tasks.orders_cancel_abandoned",
        "cloudshelf.tasks.sessions_clear_expired",
        "analytics.tasks.search_logs_prune",
        "analytics.tasks.rum_beacons_prune",
        "search.snapshot_index",
    }
    assert schedule["cart.tasks.orders_reconcile_pending"] == 60
    assert schedule["cart.tasks.orders_cancel_abandoned"] == 15 * 60
    # Daily at a quiet hour (UTC), each at its own minute.
    assert schedule["cloudshelf.tasks.sessions_clear_expired"] == crontab(hour=3, minute=7)
    assert schedule["analytics.tasks.search_logs_prune"] == crontab(hour=3, minute=37)
    assert schedule["analytics.tasks.rum_beacons_prune"] == crontab(hour=3, minute=47)
    # A backup of the search index every 6 hours (SEARCH_SNAPSHOT_HOURS), tests/search/test_snapshots.py.
    assert schedule["search.snapshot_index"] == crontab(hour="*/6", minute=23)


def test_every_scheduled_job_is_a_registered_task():
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}

    assert scheduled <= set(celery_app.tasks)


def test_sessions_clear_expired_deletes_expired_sessions_only():
    expired, current = SessionStore(), SessionStore()
    for session in (expired, current):
        session["greeting"] = "hello"
        session.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    sessions_clear_expired.apply()  # in this process: the same code a worker runs
    sessions_clear_expired.apply()  # a second run finds nothing more to do

    assert list(Session.objects.values_list("session_key", flat=True)) == [current.session_key]


def test_search_logs_prune_deletes_logs_past_the_retention_only(settings):
    settings.SEARCH_LOG_RETENTION_DAYS = 30
    kept = [search_log(days_ago=29.9), search_log(days_ago=0)]
    for _ in range(3):
        search_log(days_ago=31)

    assert search_logs_prune.apply().get() == 3
    assert search_logs_prune.apply().get() == 0
    assert sorted(SearchLog.objects.values_list("pk", flat=True)) == sorted(log.pk for log in kept)


def test_search_logs_are_deleted_in_batches(django_assert_num_queries):
    for _ in range(5):
        search_log(days_ago=100)

    # Three batches of at most two rows (a select and a delete each), then one empty select.
    with django_assert_num_queries(7):
        deleted = search_logs_delete_older_than(days=90, batch_size=2)

    assert deleted == 5
    assert not SearchLog.objects.exists()


@pytest.mark.parametrize(("days", "batch_size"), [(0, 10), (-1, 10), (90, 0)])
def test_a_nonsense_retention_or_batch_is_refused_and_deletes_nothing(days, batch_size):
    search_log(days_ago=1000)

    with pytest.raises(ValueError, match="must be at least 1"):
        search_logs_delete_older_than(days=days, batch_size=batch_size)

    assert SearchLog.objects.count() == 1


@pytest.mark.slow
def test_a_worker_knows_every_task_beat_sends():
    """What a starting worker imports (autodiscovery) must cover the schedule: beat's message for a
    task the worker never registered is rejected and the job silently never runs."""
    script = (
        "from cloudshelf.celery import app\napp.loader.import_default_modules()\nprint('\\n'.join(sorted(app.tasks)))\n"
    )
    registered = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()

    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled - set(registered) == set()
