"""cloudshelf.schedule: beat's schedule and its exact EventBridge form (one rule per entry)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from celery.schedules import crontab, schedule

from cloudshelf.schedule import ScheduledTask, UnschedulableError, beat_schedule, eventbridge_schedules
from tests.test_settings import settings_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_schedule_becomes_one_rule_per_job_at_the_same_times():
    assert eventbridge_schedules() == [
        ScheduledTask("orders-reconcile-pending", "cart.tasks.orders_reconcile_pending", "rate(1 minute)"),
        ScheduledTask("orders-cancel-abandoned", "cart.tasks.orders_cancel_abandoned", "rate(15 minutes)"),
        ScheduledTask("sessions-clear-expired", "cloudshelf.tasks.sessions_clear_expired", "cron(7 3 * * ? *)"),
        ScheduledTask("search-logs-prune", "analytics.tasks.search_logs_prune", "cron(37 3 * * ? *)"),
        ScheduledTask("rum-beacons-prune", "analytics.tasks.rum_beacons_prune", "cron(47 3 * * ? *)"),
        ScheduledTask("search-index-snapshot", "search.snapshot_index", "cron(23 0/6 * * ? *)", ("cloudshelf-",)),
    ]


def test_a_table_adds_the_hourly_drift_check_with_the_table_as_its_argument():
    rules = {rule.name: rule for rule in eventbridge_schedules(beat_schedule(dynamodb_table="books-hot"))}

    assert rules["hot-data-drift-check"].expression == "cron(41 * * * ? *)"
    assert rules["hot-data-drift-check"].rule_input == {"task": "catalog.hot_drift_check", "args": ["books-hot"]}


def test_settings_take_their_schedule_from_the_module(monkeypatch):
    values = settings_for(monkeypatch, DYNAMODB_TABLE="books-hot", SEARCH_SNAPSHOT_HOURS="2,14")

    assert values["CELERY_BEAT_SCHEDULE"] == beat_schedule(
        dynamodb_table="books-hot", search_snapshot_hours="2,14", search_index_prefix=values["SEARCH_INDEX_PREFIX"]
    )
    assert values["CELERY_BEAT_SCHEDULE"]["search-index-snapshot"]["schedule"] == crontab(hour="2,14", minute=23)


@pytest.mark.parametrize(
    ("when", "expression"),
    [
        (60, "rate(1 minute)"),
        (timedelta(minutes=5), "rate(5 minutes)"),
        (schedule(run_every=timedelta(hours=2)), "rate(2 hours)"),
        (86400.0, "rate(1 day)"),
        (timedelta(minutes=90), "rate(90 minutes)"),
        (crontab(minute="*/15"), "cron(0/15 * * * ? *)"),
        (crontab(minute="5,20,50", hour="9-17"), "cron(5,20,50 9-17 * * ? *)"),
        (crontab(minute=0, hour=8, day_of_week="mon-fri"), "cron(0 8 ? * MON,TUE,WED,THU,FRI *)"),
        (crontab(minute=0, hour=0, day_of_week="sun"), "cron(0 0 ? * SUN *)"),
        (crontab(minute=30, hour=1, day_of_month=1, month_of_year="1,4"), "cron(30 1 1 1,4 ? *)"),
        (crontab(minute=30, hour=1, day_of_month=1, month_of_year="1,7"), "cron(30 1 1 1/6 ? *)"),  # 1, 7: all there is
        (crontab(minute=0, hour="*/6"), "cron(0 0/6 * * ? *)"),
        (crontab(minute=0, hour="1-23/2"), "cron(0 1/2 * * ? *)"),
    ],
)
def test_intervals_and_crontabs_convert_exactly(when, expression):
    (rule,) = eventbridge_schedules({"job": {"task": "some.task", "schedule": when}})

    assert rule.expression == expression


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"task": "t", "schedule": 30}, "every 30 s is not a whole number of minutes"),
        ({"task": "t", "schedule": 90}, "every 90 s is not a whole number of minutes"),
        ({"task": "t", "schedule": float("nan")}, "not a whole number of minutes"),
        ({"task": "t", "schedule": crontab(minute=0, day_of_month=1, day_of_week="mon")}, "both day of month and day"),
        ({"task": "t", "schedule": True}, "bool schedules have no EventBridge form"),
        ({"task": "t", "schedule": "every minute"}, "str schedules have no EventBridge form"),
        ({"task": "t", "schedule": 60, "kwargs": {"days": 1}}, "kwargs and options cannot travel"),
        ({"task": "t", "schedule": 60, "options": {"queue": "slow"}}, "kwargs and options cannot travel"),
        ({"task": "t", "schedule": 60, "args": "prefix"}, "args must be a list"),
        ({"task": "", "schedule": 60}, "no task name"),
        ({"task": "t", "schedule": 60, "relative": True}, "unknown keys ['relative']"),
    ],
)
def test_what_eventbridge_cannot_express_is_refused_naming_the_entry(entry, message):
    with pytest.raises(UnschedulableError, match="beat entry 'job'") as refused:
        eventbridge_schedules({"job": entry})

    assert message in str(refused.value)


def test_the_module_imports_without_django_settings_as_the_cdk_app_does():
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    probe = (
        "import sys; from cloudshelf.schedule import eventbridge_schedules; "
        "rules = eventbridge_schedules(); from django.conf import settings; "
        "print(len(rules), settings.configured, 'cloudshelf.settings' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout) == (0, "6 False False\n"), result.stderr
