"""The tasks and manage functions' handlers: only scheduled tasks and allowed commands run."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from analytics.models import SearchLog

pytestmark = pytest.mark.django_db


def old_search_log() -> SearchLog:
    return SearchLog.objects.create(
        query="dune",
        result_count=1,
        latency_ms=1.0,
        is_zero_result=False,
        backend="opensearch",
        searched_at=timezone.now() - timedelta(days=400),
    )


def test_a_scheduled_task_runs_in_process_and_returns_its_summary(aws_lambda):
    for _ in range(3):
        old_search_log()

    summary = aws_lambda.scheduled_task_handler({"task": "analytics.tasks.search_logs_prune", "args": []}, None)

    assert {key: summary[key] for key in ("task", "args", "state", "result")} == {
        "task": "analytics.tasks.search_logs_prune",
        "args": [],
        "state": "SUCCESS",
        "result": 3,
    }
    assert summary["seconds"] >= 0
    assert SearchLog.objects.count() == 0


def test_the_scheduled_args_are_used_when_the_rule_input_leaves_them_out(aws_lambda):
    expired = SessionStore()
    expired.create()
    Session.objects.filter(session_key=expired.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))

    summary = aws_lambda.scheduled_task_handler({"task": "cloudshelf.tasks.sessions_clear_expired"}, None)

    assert (summary["state"], summary["args"]) == ("SUCCESS", [])
    assert Session.objects.count() == 0


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (
            {"task": "os.system", "args": ["touch /tmp/cloudshelf-lambda-hostile"]},
            "'os.system' is not a scheduled task",
        ),
        ({"task": "search.sync_pending_books", "args": []}, "is not a scheduled task"),  # a real task, not scheduled
        ({"task": "search.snapshot_index", "args": ["someone-elses-"]}, "runs only with its scheduled args"),
        ({"task": "analytics.tasks.search_logs_prune", "args": "[]"}, "runs only with its scheduled args"),
        ({"task": "analytics.tasks.search_logs_prune", "kwargs": {"days": 0}}, "unknown fields ['kwargs']"),
        ({"task": ["analytics.tasks.search_logs_prune"]}, "task must be the name of a scheduled Celery task"),
        ({}, "task must be the name"),
        (None, "got NoneType"),
        ("analytics.tasks.search_logs_prune", "got str"),
    ],
)
def test_anything_but_a_scheduled_task_is_refused_and_nothing_runs(aws_lambda, event, message):
    old_search_log()

    with pytest.raises(aws_lambda.InvalidEvent) as refused:
        aws_lambda.scheduled_task_handler(event, None)

    assert message in str(refused.value)
    assert SearchLog.objects.count() == 1
    assert not Path("/tmp/cloudshelf-lambda-hostile").exists()


def test_a_failing_task_fails_the_invocation(aws_lambda, monkeypatch):
    from analytics import tasks

    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(tasks, "search_logs_delete_older_than", broken)

    with pytest.raises(RuntimeError, match="the database went away"):
        aws_lambda.scheduled_task_handler({"task": "analytics.tasks.search_logs_prune"}, None)


def test_manage_runs_an_allowed_command_and_returns_its_output(aws_lambda):
    result = aws_lambda.manage_handler({"command": "check", "args": []}, None)

    assert (result["command"], result["args"]) == ("check", [])
    assert result["output"].startswith("System check identified no issues")


def test_manage_adds_no_input_to_migrate_and_reports_a_migrated_database(aws_lambda):
    result = aws_lambda.manage_handler({"command": "migrate", "args": ["--check"]}, None)

    assert result["args"] == ["--check", "--no-input"]


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"command": "flush", "args": ["--no-input"]}, "command 'flush' is not allowed here"),
        ({"command": "shell", "args": ["-c", "import os"]}, "command 'shell' is not allowed here"),
        (
            {"command": "os.system"},
            "is not allowed here; allowed: check, collectstatic, create_staff_user, dynamo_sync, migrate",
        ),
        (
            {"command": "check", "args": ["--settings=evil.settings"]},
            "options ['--settings=evil.settings'] are not allowed",
        ),
        ({"command": "check", "args": ["--pythonpath", "/tmp"]}, "options ['--pythonpath'] are not allowed"),
        ({"command": "check", "args": "--deploy"}, "args must be a list of at most 20 strings"),
        ({"command": "check", "args": ["x"] * 21}, "args must be a list of at most 20 strings"),
        ({"command": "check", "stdin": "yes"}, "unknown fields ['stdin']"),
        ([], "got list"),
    ],
)
def test_manage_refuses_other_commands_and_options(aws_lambda, event, message):
    with pytest.raises(aws_lambda.InvalidEvent) as refused:
        aws_lambda.manage_handler(event, None)

    assert message in str(refused.value)


def test_a_failing_command_fails_the_invocation_with_its_message(aws_lambda):
    with pytest.raises(RuntimeError, match=r"manage\.py check failed"):
        aws_lambda.manage_handler({"command": "check", "args": ["no_such_app"]}, None)
