"""OpenTelemetry: off by default (nothing instrumented), on with OTEL_TRACES_ENABLED=1 (server span, DB child spans).

Each check runs in a fresh process: instrumenting patches Django's middleware list, psycopg,
redis and Celery for the life of a process, which this test process must not carry into others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workers import database_url_of_this_test

ROOT = Path(__file__).resolve().parents[3]

TRACED_REQUEST = """
import json, django
django.setup()
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from analytics.metrics.tracing import tracer_provider
exporter = InMemorySpanExporter()
tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
from django.test import Client
status = Client(HTTP_HOST="localhost").get("/health/ready").status_code
print(json.dumps({"status": status, "spans": [
    {"name": span.name, "kind": span.kind.name, "id": span.context.span_id, "trace": span.context.trace_id,
     "parent": span.parent.span_id if span.parent else None, "system": (span.attributes or {}).get("db.system")}
    for span in exporter.get_finished_spans()
]}))
"""

# redis-py 8 imports the OpenTelemetry *metrics* API on its own when the package is installed
# (its observability hooks, inactive until initialised), so the check is on what tracing brings.
NOTHING_INSTRUMENTED = """
import sys, django
django.setup()
import psycopg
from django.conf import settings
from django.test import Client
status = Client(HTTP_HOST="localhost").get("/health/ready").status_code
tracing = ("opentelemetry.instrumentation", "opentelemetry.exporter", "opentelemetry.sdk.trace")
print(status, sorted(name for name in sys.modules if name.startswith(tracing)),
      [name for name in settings.MIDDLEWARE if "opentelemetry" in name], hasattr(psycopg.connect, "__wrapped__"))
"""


def _run(code: str, **environment: str) -> subprocess.CompletedProcess[str]:
    clean = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "cloudshelf.settings", "DATABASE_URL": database_url_of_this_test(),
             **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.django_db
def test_traces_on_give_a_server_span_with_database_and_redis_children():
    result = _run(TRACED_REQUEST, OTEL_TRACES_ENABLED="1", OTEL_TRACES_EXPORTER="none")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    spans = answer["spans"]
    [server] = [span for span in spans if span["kind"] == "SERVER"]
    assert (answer["status"], server["name"]) == (200, "GET health/ready")
    children = [span for span in spans if span["parent"] == server["id"]]
    assert {span["system"] for span in children} >= {"postgresql", "redis"}
    assert all(span["trace"] == server["trace"] for span in children)


@pytest.mark.django_db
def test_traces_off_import_and_instrument_nothing():
    result = _run(NOTHING_INSTRUMENTED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "200 [] [] False"
