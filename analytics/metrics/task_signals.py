"""Celery tasks measured like requests: an EMF line per run, the running totals, a slow-task warning.

Connected by ``AnalyticsConfig.ready`` in every process (the worker, and the web processes
where eager tasks run). ``task_prerun`` notes the start by task id, ``task_postrun`` measures;
a worker child that ends writes its pending counts (``worker_process_shutdown``: prefork
children leave through ``os._exit``, which skips ``atexit``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from celery.signals import task_postrun, task_prerun, worker_process_shutdown, worker_shutdown
from django.conf import settings

from analytics.metrics import emf, store

# task id -> perf_counter at start. A task that never reaches postrun (a killed worker) leaks
# one entry until the process ends; the dictionary is bounded below all the same.
_started: dict[str, float] = {}
_started_lock = threading.Lock()
_MAX_RUNNING = 10_000


@task_prerun.connect(dispatch_uid="analytics.metrics.task_prerun")  # type: ignore[untyped-decorator]
def task_started(task_id: str | None = None, **_: Any) -> None:
    """Note when a task run began."""
    if not task_id or not settings.METRICS_ENABLED:
        return
    with _started_lock:
        if len(_started) >= _MAX_RUNNING:
            _started.clear()
        _started[task_id] = time.perf_counter()


@task_postrun.connect(dispatch_uid="analytics.metrics.task_postrun")  # type: ignore[untyped-decorator]
def task_finished(task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any) -> None:
    """Emit the run's EMF line, count it, and warn when it took longer than ``SLOW_TASK_MS``."""
    with _started_lock:
        started = _started.pop(task_id or "", None)
    if started is None:
        return
    duration_ms = (time.perf_counter() - started) * 1000
    name = str(getattr(task, "name", None) or "unknown")
    # No state: the run raised straight through (an eager run that propagates its error).
    state = state or "FAILURE"
    is_failed = state == "FAILURE"
    emf.emit_task({"TaskName": name, "Duration": round(duration_ms, 3), "Failed": int(is_failed), "State": state})
    store.observe_task(task_name=name, duration_ms=duration_ms, is_failed=is_failed)
    if duration_ms > settings.SLOW_TASK_MS:
        emf.warn_slow(
            "slow_task",
            {
                "task": name,
                "task_id": task_id,
                "state": state,
                "duration_ms": round(duration_ms, 3),
                "threshold_ms": settings.SLOW_TASK_MS,
            },
        )


@worker_process_shutdown.connect(dispatch_uid="analytics.metrics.worker_process_shutdown")  # type: ignore[untyped-decorator]
@worker_shutdown.connect(dispatch_uid="analytics.metrics.worker_shutdown")  # type: ignore[untyped-decorator]
def worker_stopping(**_: Any) -> None:
    """Write the counts still pending before the process goes."""
    store.flush()
