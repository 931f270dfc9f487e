"""A real ``celery -A cloudshelf worker`` for tests, on a queue of its own, reading the test database.

Tasks the test queues go through Redis to it; nothing runs in-process. Use it from tests
marked ``@pytest.mark.django_db(transaction=True)``, so the worker sees committed rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from cloudshelf.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 30


class WorkerLog:
    """The worker's log file, for waiting on what it did."""

    def __init__(self, path: Path, process: subprocess.Popen[bytes]) -> None:
        self.path = path
        self.process = process

    def text(self) -> str:
        return self.path.read_text() if self.path.exists() else ""

    def count(self, *texts: str) -> int:
        """Log lines that contain every one of ``texts``."""
        return sum(all(text in line for text in texts) for line in self.text().splitlines())

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"the worker exited:\n{self.text()}"


def database_url_of_this_test() -> str:
    """``DATABASE_URL`` of the database this test uses (pytest-django's test database)."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )


@contextmanager
def real_worker(
    name: str, environment: Mapping[str, str] | None = None, *, queue: str | None = None
) -> Iterator[WorkerLog]:
    """Start a worker on a queue of its own (``test-<name>-…``), route this process's tasks to it, stop it after.

    ``environment`` is added to this process's, on top of the test database's URL. ``queue``
    names the queue instead: a second worker on it takes up what the first one left.
    """
    queue = queue or f"test-{name}-{uuid.uuid4().hex[:8]}"
    log = ROOT / "var" / "log" / f"{queue}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "celery", "-A", "cloudshelf", "worker", "--pool", "solo", "--queues", queue],
            *["--hostname", f"{queue}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle"],
            *["--loglevel", "info", "--logfile", str(log)],
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url_of_this_test(),
            "CELERY_TASK_DEFAULT_QUEUE": queue,  # tasks the worker queues itself (retries) stay its own
            **(environment or {}),
        },
    )
    worker_log = WorkerLog(log, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while " ready." not in worker_log.text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start:\n{worker_log.text()}")
            time.sleep(0.1)
        yield worker_log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
        log.unlink(missing_ok=True)
