"""What the server metrics cost a request, in-process: the 0.2 ms budget of issue 15.

1. ``MetricsMiddleware`` around a cheap view (``RequestFactory``; a resolved route, so
   classification runs as in production), timed against the bare view, interleaved, after a
   warm-up: p50/p95/p99 of each and of the difference. Its EMF line is written to
   ``/dev/null`` through the real logger and handler (a pipe to the container runtime costs
   about the same; a terminal costs far more).
2. The same with a view making three queries: the per-query ``execute_wrapper`` cost.
3. The middleware in Django's full handler (``/health``), switched on and off in turn.
4. One flush of a busy process's pending counts to Redis (a script call per key): what the
   one request in ``METRICS_FLUSH_SECONDS`` that finds it due pays on top.
5. OpenTelemetry on against off: a request through Django's full handler (``/health/ready``:
   one query, two Redis calls) in two fresh processes, spans created and dropped
   (``OTEL_TRACES_EXPORTER=none``; the OTLP export runs on a background thread).

``base_url`` is not used: everything is timed in this process (or its children) against the
settings' database and Redis. ``make bench NAME=metrics``; ``BENCH_METRICS_CALLS`` sets the count.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django

CALLS = int(os.environ.get("BENCH_METRICS_CALLS", "20000"))
WARMUP_CALLS = 1000
BUDGET_MS = 0.2
ROOT = Path(__file__).resolve().parent.parent


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


@dataclass
class OverheadRun:
    """Microseconds per call with and without what is measured."""

    name: str
    with_micros: list[float]
    without_micros: list[float]
    budget_ms: float | None = BUDGET_MS
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def overhead_ms(self, fraction: float) -> float:
        return (_percentile(self.with_micros, fraction) - _percentile(self.without_micros, fraction)) / 1000

    def summary_line(self) -> str:
        verdict = ""
        if self.budget_ms is not None:
            verdict = "PASS" if self.overhead_ms(0.50) < self.budget_ms else "FAIL"
            verdict = f"  target p50 overhead < {self.budget_ms} ms: {verdict}"
        return (
            f"metrics: {self.name:<40} overhead p50={self.overhead_ms(0.50):6.3f} p95={self.overhead_ms(0.95):6.3f} "
            f"p99={self.overhead_ms(0.99):6.3f} ms  (with p50={_percentile(self.with_micros, 0.5) / 1000:6.3f}, "
            f"without p50={_percentile(self.without_micros, 0.5) / 1000:6.3f} ms)  n={len(self.with_micros)}{verdict}"
        )


@dataclass
class TimedRun:
    """Microseconds per call of one operation."""

    name: str
    micros: list[float]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        return (
            f"metrics: {self.name:<40} p50={_percentile(self.micros, 0.5) / 1000:6.3f} "
            f"p95={_percentile(self.micros, 0.95) / 1000:6.3f} p99={_percentile(self.micros, 0.99) / 1000:6.3f} ms"
            f"  n={len(self.micros)}"
        )


def _interleaved(name: str, with_: Callable[[], object], without: Callable[[], object], calls: int) -> OverheadRun:
    for _ in range(WARMUP_CALLS):
        with_()
        without()
    with_micros, without_micros = [], []
    for _ in range(calls):
        started = time.perf_counter()
        without()
        without_micros.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        with_()
        with_micros.append((time.perf_counter() - started) * 1e6)
    return OverheadRun(name=name, with_micros=with_micros, without_micros=without_micros)


def _emf_to_devnull() -> Any:
    devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open for the whole run, closed at the end
    for handler in logging.getLogger("cloudshelf.metrics").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    return devnull


def _middleware_runs(calls: int) -> list[OverheadRun]:
    from django.db import connection
    from django.http import HttpRequest, HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from analytics.metrics import store
    from analytics.metrics.middleware import MetricsMiddleware

    def cheap_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    def querying_view(request: HttpRequest) -> HttpResponse:
        with connection.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT 1")
        return HttpResponse("ok")

    request = RequestFactory().get("/books/")
    request.resolver_match = resolve("/books/")
    runs = []
    for name, view in (("middleware, cheap view", cheap_view), ("middleware, view with 3 queries", querying_view)):
        measured = MetricsMiddleware(view)

        def with_middleware(measured: MetricsMiddleware = measured) -> object:
            return measured(request)

        def without(view: Callable[[HttpRequest], HttpResponse] = view) -> object:
            return view(request)

        runs.append(_interleaved(name, with_middleware, without, calls))
    store.flush()
    return runs


def _flush_run(rounds: int = 300) -> TimedRun:
    """A busy process's five seconds: every class, a spread of durations, flushed in one pipeline."""
    from analytics.metrics import store
    from analytics.metrics.classify import ROUTE_CLASSES

    micros = []
    for round_number in range(rounds):
        for index in range(400):
            store.observe_request(
                route_class=ROUTE_CLASSES[index % len(ROUTE_CLASSES)],
                duration_ms=1.0 + (index * 7 + round_number) % 900,
                is_error=index % 97 == 0,
            )
        started = time.perf_counter()
        store.flush()
        micros.append((time.perf_counter() - started) * 1e6)
    return TimedRun(name="one flush (400 requests, 8 classes)", micros=micros)


CHILD = """
import json, os, sys, time, django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
calls = int(sys.argv[1])
for _ in range(300):
    client.get("/health/ready")
micros = []
for _ in range(calls):
    started = time.perf_counter()
    client.get("/health/ready")
    micros.append((time.perf_counter() - started) * 1e6)
print(json.dumps(micros))
"""


def _child_micros(calls: int, **environment: str) -> list[float]:
    # The children's counts go to the stack's store under their own prefix, deleted afterwards.
    environment = {"CACHE_KEY_PREFIX": f"bench-metrics-{os.getpid()}-child", **environment}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(calls)],
        cwd=ROOT,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "none", "ALLOW_INSECURE_HTTP": "1", **environment},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    micros: list[float] = json.loads(result.stdout.strip().splitlines()[-1])
    _delete_children_keys()
    return micros


def _delete_children_keys() -> None:
    from django.conf import settings

    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        durable = get_redis_connection("durable")
        for key in durable.scan_iter(match=f"bench-metrics-{os.getpid()}-child:*", count=1000):
            durable.delete(key)


def _otel_run(calls: int) -> OverheadRun:
    """Two fresh processes each way, in turn, so that load on the machine falls on both alike."""
    off: list[float] = []
    on: list[float] = []
    for _ in range(2):
        off += _child_micros(calls // 2, OTEL_TRACES_ENABLED="0")
        on += _child_micros(calls // 2, OTEL_TRACES_ENABLED="1")
    run = OverheadRun(name="OpenTelemetry on, /health/ready", with_micros=on, without_micros=off, budget_ms=None)
    run.notes.append("#   (full Django handler, 1 query + 2 Redis calls per request; spans made, not exported)")
    return run


def _metrics_in_handler_run(calls: int) -> OverheadRun:
    """The middleware in Django's full handler (``/health``), on and off in turn in this one process."""
    from django.conf import settings
    from django.test import Client

    client = Client(HTTP_HOST="localhost")

    def request(enabled: bool) -> None:
        settings.METRICS_ENABLED = enabled
        client.get("/health")

    run = _interleaved("metrics on, /health (full handler)", lambda: request(True), lambda: request(False), calls)
    settings.METRICS_ENABLED = True
    return run


def run(base_url: str) -> list[OverheadRun | TimedRun]:
    """``base_url`` is not used (see the module docstring)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from django.conf import settings

    devnull = _emf_to_devnull()
    written = _counts_to_keys_of_this_run()
    try:
        results: list[OverheadRun | TimedRun] = [*_middleware_runs(CALLS)]
        if settings.REDIS_URL:
            results.append(_flush_run())
        results.append(_metrics_in_handler_run(CALLS // 2))
        results.append(_otel_run(max(CALLS // 10, 500)))
    finally:
        devnull.close()
        _delete(written)
    return results


def _counts_to_keys_of_this_run() -> set[str]:
    """Point this process's store at keys of its own: the stack's performance page must not show the benchmark."""
    from django.conf import settings

    from analytics.metrics import store

    written: set[str] = set()
    prefix = f"bench-metrics-{os.getpid()}"

    def minute_key(minute: int) -> str:
        written.add(f"{prefix}:{{metrics:{minute}}}")
        return f"{prefix}:{{metrics:{minute}}}"

    def totals_key() -> str:
        written.add(f"{prefix}:{{metrics:totals}}")
        return f"{prefix}:{{metrics:totals}}"

    store.minute_key, store.totals_key = minute_key, totals_key
    settings.METRICS_FLUSH_SECONDS = 5.0
    return written


def _delete(keys: set[str]) -> None:
    from django.conf import settings

    if settings.REDIS_URL and keys:
        from django_redis import get_redis_connection

        durable = get_redis_connection("durable")
        for key in keys:
            durable.delete(key)


if __name__ == "__main__":
    for result in run(""):
        print(result.summary_line(), *getattr(result, "notes", []), sep="\n")
