"""Slow requests and slow tasks: one structured warning each, past their class's threshold."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery import shared_task

from analytics.metrics import store

ROOT = Path(__file__).resolve().parents[3]


@shared_task(name="tests.analytics.metrics.sample_task")
def sample_task(should_fail: bool = False) -> str:
    if should_fail:
        raise ValueError("the sample task failed on purpose")
    return "done"


def test_a_request_over_its_class_threshold_logs_one_structured_warning(client, settings, slow_lines):
    settings.METRICS_SLOW_REQUEST_MS = {**settings.METRICS_SLOW_REQUEST_MS, "health": 0}
    assert client.get("/health").status_code == 200
    [warning] = slow_lines.lines
    assert set(warning) == {
        "event", "route", "route_class", "method", "status", "duration_ms", "threshold_ms",
        "query_count", "query_ms", "page_cache",
    }  # fmt: skip
    assert (warning["event"], warning["route"], warning["route_class"], warning["method"], warning["status"]) == (
        "slow_request", "health", "health", "GET", 200,
    )  # fmt: skip
    assert (warning["threshold_ms"], warning["query_count"], warning["page_cache"]) == (0, 0, "none")
    assert warning["duration_ms"] > 0


def test_a_request_under_its_threshold_logs_nothing(client, settings, slow_lines):
    settings.METRICS_SLOW_REQUEST_MS = {**settings.METRICS_SLOW_REQUEST_MS, "health": 60_000}
    assert client.get("/health").status_code == 200
    assert slow_lines.raw == []


@pytest.mark.django_db
def test_the_threshold_is_the_classs_own(client, settings, slow_lines):
    settings.METRICS_SLOW_REQUEST_MS = {**settings.METRICS_SLOW_REQUEST_MS, "page": 0, "health": 60_000}
    client.get("/health")
    client.get("/books/")
    assert [warning["route"] for warning in slow_lines.lines] == ["catalog:book-list"]
    assert slow_lines.lines[0]["query_count"] > 0


def test_an_eager_task_writes_its_emf_line_and_counts_in_the_totals(emf_lines, settings):
    settings.SLOW_TASK_MS = 60_000
    assert sample_task.apply().get() == "done"  # in-process, whatever the broker
    [line] = [line for line in emf_lines.lines if "TaskName" in line]
    assert line["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["TaskName"]]
    assert [metric["Name"] for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]] == ["Duration", "Failed"]
    assert (line["TaskName"], line["Failed"], line["State"]) == ("tests.analytics.metrics.sample_task", 0, "SUCCESS")
    assert store.read_totals()["task:tests.analytics.metrics.sample_task:n"] == 1


def test_a_failed_task_counts_as_failed_and_a_slow_one_warns(emf_lines, slow_lines, settings):
    settings.SLOW_TASK_MS = 0
    with pytest.raises(ValueError, match="on purpose"):
        sample_task.apply(kwargs={"should_fail": True})
    [line] = [line for line in emf_lines.lines if "TaskName" in line]
    assert (line["Failed"], line["State"]) == (1, "FAILURE")
    [warning] = slow_lines.lines
    assert (warning["event"], warning["task"], warning["state"], warning["threshold_ms"]) == (
        "slow_task", "tests.analytics.metrics.sample_task", "FAILURE", 0,
    )  # fmt: skip
    assert store.read_totals()["task:tests.analytics.metrics.sample_task:e"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_counts_its_tasks_and_flushes_them_to_redis(settings):
    """The worker's EMF lines go to its stdout (not the log file); its totals reach the shared Redis."""
    from analytics.tasks import search_logs_prune
    from tests.workers import real_worker

    prefix = settings.CACHES["durable"]["KEY_PREFIX"]
    with real_worker("metrics", {"CACHE_KEY_PREFIX": prefix, "METRICS_FLUSH_SECONDS": "0"}) as log:
        search_logs_prune.delay()
        deadline = time.monotonic() + 20
        while "task:analytics.tasks.search_logs_prune:n" not in store.read_totals():
            log.assert_alive()
            assert time.monotonic() < deadline, log.text()
            time.sleep(0.1)
    totals = store.read_totals()
    name = "task:analytics.tasks.search_logs_prune"
    assert (totals[f"{name}:n"], totals.get(f"{name}:e")) == (1, None)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, "2000 500 200 1000 2000 200 200 1000 10000"),
        ({"METRICS_SLOW_CART_MS": "350", "SLOW_TASK_MS": "2500"}, "2000 500 350 1000 2000 200 200 1000 2500"),
    ],
)
def test_thresholds_come_from_the_environment(environment, expected):
    assert _settings_probe(environment).stdout.strip() == expected


@pytest.mark.parametrize("bad", ["fast", "0", "-5", "1.5"])
def test_a_bad_threshold_stops_the_start_with_the_variables_name(bad):
    result = _settings_probe({"METRICS_SLOW_SEARCH_MS": bad})
    assert result.returncode != 0
    assert "METRICS_SLOW_SEARCH_MS" in result.stderr


def _settings_probe(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = "from django.conf import settings as s; print(*s.METRICS_SLOW_REQUEST_MS.values(), s.SLOW_TASK_MS)"
    clean = {name: value for name, value in os.environ.items() if not name.startswith(("METRICS_", "SLOW_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "cloudshelf.settings", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
