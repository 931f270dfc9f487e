"""The periodic jobs, in the two forms that run them: Celery beat's and EventBridge's.

``beat_schedule`` is what ``celery -A cloudshelf beat`` sends (settings'
``CELERY_BEAT_SCHEDULE`` is its result). In the Lambda shape there is no beat process: the App
stack makes one EventBridge rule per entry of ``eventbridge_schedules``, each invoking the
``tasks`` function (``cloudshelf.aws_lambda.scheduled_task_handler``) with the task and its
arguments. Both come from the one table below, so the two shapes cannot drift apart.

Importable without Django settings (the CDK app imports it): only ``celery.schedules``.
Every job is idempotent, so a rule that fires twice (EventBridge delivers at least once)
does no harm. Times are UTC in both: Celery's timezone is settings' ``TIME_ZONE`` (UTC) and
EventBridge rules are UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery.schedules import crontab
from celery.schedules import schedule as interval_schedule

# Settings' defaults, repeated here because this module must not read settings (see above).
DEFAULT_SEARCH_SNAPSHOT_HOURS = "*/6"
DEFAULT_SEARCH_INDEX_PREFIX = "cloudshelf-"


def beat_schedule(
    *,
    dynamodb_table: str = "",
    search_snapshot_hours: str | None = DEFAULT_SEARCH_SNAPSHOT_HOURS,
    search_index_prefix: str = DEFAULT_SEARCH_INDEX_PREFIX,
) -> dict[str, dict[str, Any]]:
    """Celery beat's schedule: entry name -> ``{"task", "schedule", "args"?}``.

    ``dynamodb_table`` adds the hourly hot-data drift check (only a deployment with a table has
    one to check); ``search_snapshot_hours`` (a crontab hour field, ``None`` for none) the
    search index snapshot. The table and the index prefix travel with their tasks, so a
    worker of another table or index leaves the job alone. A bad hour field raises ValueError.
    """
    schedule: dict[str, dict[str, Any]] = {
        # Orders whose payment outcome is unknown (provider timeout): ask the provider.
        "orders-reconcile-pending": {"task": "cart.tasks.orders_reconcile_pending", "schedule": 60.0},
        # Placed orders never paid: cancel them (only after the provider confirms) and restock.
        "orders-cancel-abandoned": {"task": "cart.tasks.orders_cancel_abandoned", "schedule": 15 * 60.0},
        # Expired sessions out of Postgres (clearsessions), at a quiet hour.
        "sessions-clear-expired": {
            "task": "cloudshelf.tasks.sessions_clear_expired",
            "schedule": crontab(hour=3, minute=7),
        },
        # Search logs past SEARCH_LOG_RETENTION_DAYS, in batches.
        "search-logs-prune": {"task": "analytics.tasks.search_logs_prune", "schedule": crontab(hour=3, minute=37)},
        # Real-user monitoring beacons past RUM_RETENTION_DAYS, in batches.
        "rum-beacons-prune": {"task": "analytics.tasks.rum_beacons_prune", "schedule": crontab(hour=3, minute=47)},
    }
    if dynamodb_table:
        # Compares a sample of hot records with Postgres and repairs them (docs/hot-data.md).
        schedule["hot-data-drift-check"] = {
            "task": "catalog.hot_drift_check",
            "schedule": crontab(minute=41),
            "args": [dynamodb_table],
        }
    if search_snapshot_hours is not None:
        # A backup of the live search index (docs/opensearch.md, "Backups and restore").
        schedule["search-index-snapshot"] = {
            "task": "search.snapshot_index",
            "schedule": crontab(hour=search_snapshot_hours, minute=23),
            "args": [search_index_prefix],
        }
    return schedule


@dataclass(frozen=True)
class ScheduledTask:
    """One EventBridge rule: when (``expression``) to run which Celery task with which arguments."""

    name: str  # the beat entry's name, e.g. "orders-reconcile-pending": a stable rule id
    task: str  # the Celery task's registered name
    expression: str  # an EventBridge schedule expression: "rate(15 minutes)", "cron(7 3 * * ? *)"
    args: tuple[Any, ...] = ()

    @property
    def rule_input(self) -> dict[str, Any]:
        """The rule target's input: what ``scheduled_task_handler`` receives."""
        return {"task": self.task, "args": list(self.args)}


class UnschedulableError(ValueError):
    """A beat entry EventBridge cannot run exactly as beat would."""


def eventbridge_schedules(schedule: dict[str, dict[str, Any]] | None = None) -> list[ScheduledTask]:
    """The beat schedule (default: ``beat_schedule()``) as EventBridge rules, in entry order.

    Intervals become ``rate(...)`` and crontabs ``cron(...)``, exactly: an entry that would
    run at other times than beat runs it (under a minute, not whole minutes, a crontab
    restricting both day of month and day of week), or with what the rule input cannot
    carry (keyword arguments, options), raises UnschedulableError naming the entry.
    """
    entries = beat_schedule() if schedule is None else schedule
    return [_scheduled_task(name, entry) for name, entry in entries.items()]


def _scheduled_task(name: str, entry: dict[str, Any]) -> ScheduledTask:
    unknown = set(entry) - {"task", "schedule", "args", "kwargs", "options"}
    if unknown:
        raise UnschedulableError(f"beat entry {name!r}: unknown keys {sorted(unknown)}")
    if entry.get("kwargs") or entry.get("options"):
        raise UnschedulableError(f"beat entry {name!r}: kwargs and options cannot travel in an EventBridge rule")
    task = entry.get("task")
    if not isinstance(task, str) or not task:
        raise UnschedulableError(f"beat entry {name!r}: no task name")
    args = entry.get("args") or ()
    if not isinstance(args, list | tuple):
        raise UnschedulableError(f"beat entry {name!r}: args must be a list, not {type(args).__name__}")
    return ScheduledTask(name=name, task=task, expression=_expression(name, entry.get("schedule")), args=tuple(args))


def _expression(name: str, when: object) -> str:
    if isinstance(when, crontab):
        return _cron_expression(name, when)
    if isinstance(when, interval_schedule):
        when = when.run_every
    if isinstance(when, timedelta):
        when = when.total_seconds()
    if isinstance(when, int | float) and not isinstance(when, bool):
        return _rate_expression(name, float(when))
    raise UnschedulableError(f"beat entry {name!r}: {type(when).__name__} schedules have no EventBridge form")


def _rate_expression(name: str, seconds: float) -> str:
    if not (seconds >= 60 and seconds % 60 == 0):  # NaN too
        raise UnschedulableError(f"beat entry {name!r}: every {seconds:g} s is not a whole number of minutes")
    minutes = int(seconds // 60)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes % size == 0:
            count = minutes // size
            return f"rate({count} {unit}{'' if count == 1 else 's'})"
    raise AssertionError("unreachable: every count of minutes is a whole number of minutes")


_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Celery's 0..6 (Sunday = 0)


def _cron_expression(name: str, when: crontab) -> str:
    every_day_of_month = set(when.day_of_month) == set(range(1, 32))
    every_day_of_week = set(when.day_of_week) == set(range(7))
    if not every_day_of_month and not every_day_of_week:
        # Celery runs when both match; EventBridge takes one of the two ("?" in the other).
        raise UnschedulableError(f"beat entry {name!r}: a crontab cannot restrict both day of month and day of week")
    minute = _field(when.minute, low=0, high=59)
    hour = _field(when.hour, low=0, high=23)
    month = _field(when.month_of_year, low=1, high=12)
    if every_day_of_week:
        day_of_month, day_of_week = _field(when.day_of_month, low=1, high=31), "?"
    else:
        day_of_month, day_of_week = "?", ",".join(_DAY_NAMES[day] for day in sorted(when.day_of_week))
    return f"cron({minute} {hour} {day_of_month} {month} {day_of_week} *)"


def _field(values: set[int], *, low: int, high: int) -> str:
    """One cron field from Celery's expanded set: ``*``, ``start/step``, ``a-b``, ``n`` or a list."""
    ordered = sorted(values)
    if ordered == list(range(low, high + 1)):
        return "*"
    if len(ordered) == 1:
        return str(ordered[0])
    step = ordered[1] - ordered[0]
    if ordered == list(range(ordered[0], high + 1, step)):
        # Every step from start to the end of the range: EventBridge's "start/step" means exactly that.
        return f"{ordered[0]}-{ordered[-1]}" if step == 1 else f"{ordered[0]}/{step}"
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(str(value) for value in ordered)
