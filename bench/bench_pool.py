"""Postgres connections: one per request, persistent per thread, or a psycopg pool per process.

The data-tier issue asks what pooling buys in connections held and in per-request cost under
the benchmark load. Each mode runs its own gunicorn (the project's ``gunicorn.conf.py``: 2
workers x 8 threads here) on a free loopback port beside the stack, with the whole-page
cache off so every request renders and queries Postgres: book pages over 2,000 books, a 5 s
warm-up, then ``wrk -t2 -c16 -d20s``. While it runs, a sampler counts that gunicorn's
connections in ``pg_stat_activity`` (told apart by ``application_name``) every 0.2 s; the
replica is left out (``DATABASE_REPLICA_URL`` unset), so every connection is on the primary.

Modes (settings in docs/database.md):

* ``connect per request`` — ``DATABASE_CONN_MAX_AGE=0``, no pool: a TCP connect and an
  authentication per request (Django's default);
* ``persistent per thread`` — ``DATABASE_CONN_MAX_AGE=600``, no pool (the setting before the
  pool): every gunicorn thread keeps a connection of its own, busy or not;
* ``pooled`` — ``DATABASE_POOL=1``: each process shares ``DATABASE_POOL_MAX_SIZE``
  connections among its threads.

The first run is the floor (``/health``, which needs no database) for the ratio, as the
other closed-loop benchmarks print it. Run with ``make bench NAME=pool`` (the stack's
database with the benchmark catalog: ``make seed``).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import django

from bench.cpu import CpuSnapshot, describe_usage
from bench.wrk import WARMUP_S, WrkReport, run_wrk

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 40
SAMPLE_INTERVAL_S = 0.2
MODES: dict[str, dict[str, str]] = {
    "connect per request": {"DATABASE_CONN_MAX_AGE": "0", "DATABASE_POOL": "0"},
    "persistent per thread": {"DATABASE_CONN_MAX_AGE": "600", "DATABASE_POOL": "0"},
    "pooled, 4 per process": {"DATABASE_POOL": "1", "DATABASE_POOL_MAX_SIZE": "4"},
    "pooled, 8 per process": {"DATABASE_POOL": "1", "DATABASE_POOL_MAX_SIZE": "8"},
}


@dataclass
class PoolRun:
    """One closed-loop run of one connection mode, with the connections it held."""

    name: str
    report: WrkReport
    floor_rate: float
    connections_max: int = 0
    connections_mean: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        latency = self.report.latency_ms
        ratio = f"{self.report.rate / self.floor_rate:4.2f}x /health" if self.floor_rate else "floor"
        return (
            f"pool: {self.name:<28} {self.report.rate:8.1f} req/s ({ratio})  "
            f"p50={latency.get('p50', 0):6.2f} p95={latency.get('p95', 0):6.2f} p99={latency.get('p99', 0):6.2f} ms  "
            f"n={self.report.requests} errors={self.report.errors} non-2xx={self.report.non_2xx}  "
            f"Postgres connections: max {self.connections_max}, mean {self.connections_mean:.1f}"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _book_paths(count: int = 2000) -> list[str]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from catalog.models import Book

    total = Book.objects.count()
    if total < 1000:
        raise SystemExit(f"the pool benchmark needs the benchmark catalog and the stack has {total:,} books: make seed")
    ids = list(Book.objects.values_list("id", flat=True).order_by("?")[:count])
    return [book.get_absolute_url() for book in Book.objects.filter(id__in=ids).only("isbn13", "slug")]


def _count_connections(application_name: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [application_name])
        return int(cursor.fetchone()[0])


class _Sampler(threading.Thread):
    """Counts one gunicorn's Postgres connections until stopped."""

    def __init__(self, application_name: str) -> None:
        super().__init__(daemon=True)
        self.application_name = application_name
        self.counts: list[int] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        from django.db import connection

        try:
            while not self._stopping.wait(SAMPLE_INTERVAL_S):
                self.counts.append(_count_connections(self.application_name))
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)


class _Gunicorn:
    """A gunicorn of the project's config on a free port, with ``extra`` settings."""

    def __init__(self, extra: dict[str, str], application_name: str) -> None:
        self.port = _free_port()
        self.directory = tempfile.TemporaryDirectory(prefix="bench-pool-")
        env = os.environ | extra
        # Every connection on the primary, where the sampler counts them (the stack reads from a replica).
        env.pop("DATABASE_REPLICA_URL", None)
        env |= {
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "RUN_DIR": self.directory.name,
            "LOG_DIR": self.directory.name,
            # libpq reads it: the sampler tells this gunicorn's connections apart by it.
            "PGAPPNAME": application_name,
            # Every request renders its page and reads Postgres.
            "PAGE_CACHE_SECONDS": "0",
            "RATE_LIMITS_ENABLED": "0",
        }
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.directory.name}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit(f"gunicorn did not answer /health within {START_TIMEOUT_S}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.directory.cleanup()


def _measure(name: str, extra: dict[str, str], lines: Sequence[tuple[str, str]], floor_rate: float) -> PoolRun:
    print(f"  running pool: {name} …", flush=True)
    application_name = "bench-pool-" + name.replace(" ", "-")
    server = _Gunicorn(extra, application_name)
    try:
        if WARMUP_S >= 1:
            run_wrk(server.base_url, lines, duration_s=WARMUP_S)
        sampler = _Sampler(application_name)
        sampler.start()
        # The CPU snapshot finds gunicorn by the pid file in RUN_DIR: this one's, not the stack's.
        stack_run_dir = os.environ.get("RUN_DIR")
        os.environ["RUN_DIR"] = server.directory.name
        try:
            cpu_before = CpuSnapshot.take()
            report = run_wrk(server.base_url, lines)
            cpu_after = CpuSnapshot.take()
        finally:
            if stack_run_dir is None:
                os.environ.pop("RUN_DIR", None)
            else:
                os.environ["RUN_DIR"] = stack_run_dir
        sampler.stop()
    finally:
        server.stop()
    counts = sampler.counts or [0]
    run = PoolRun(
        name=name,
        report=report,
        floor_rate=floor_rate,
        connections_max=max(counts),
        connections_mean=sum(counts) / len(counts),
    )
    run.notes.append(
        "  " + describe_usage(cpu_before, cpu_after, elapsed_s=report.duration_s, requests=report.requests)
    )
    if report.errors or report.non_2xx:
        run.problems.append(f"pool: {name}: {report.errors} errors and {report.non_2xx} non-2xx answers")
    return run


def run(base_url: str) -> list[PoolRun]:
    """``base_url`` (the stack) is not used: each mode needs a gunicorn started with its settings."""
    paths = _book_paths()
    random.Random(3).shuffle(paths)
    lines = [(path, "") for path in paths]
    floor_server = _Gunicorn({}, "bench-pool-floor")
    try:
        run_wrk(floor_server.base_url, [("/health", "")], duration_s=max(WARMUP_S, 1))
        floor_report = run_wrk(floor_server.base_url, [("/health", "")])
    finally:
        floor_server.stop()
    results = [PoolRun(name="floor /health", report=floor_report, floor_rate=0.0)]
    for name, extra in MODES.items():
        results.append(_measure(name, extra, lines, floor_report.rate))
    return results
