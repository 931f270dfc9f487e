"""OpenTelemetry traces, off by default: ``OTEL_TRACES_ENABLED=1`` turns them on.

On, every request becomes a server span (the Django instrumentation), with child spans for
each Postgres statement (psycopg), Redis command (redis) and Celery publish/run (celery),
exported over OTLP/HTTP (protobuf) to ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the SDK's standard
variables: ``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_HEADERS``, sampling through
``OTEL_TRACES_SAMPLER``…). ``OTEL_TRACES_EXPORTER=none`` instruments without exporting (the
tests add an in-memory exporter). The HTTP exporter, not gRPC: it needs no ``grpcio`` build
of its own, and ``opentelemetry-proto`` 1.45 accepts our ``protobuf`` 7 pin.

Off, nothing of OpenTelemetry is imported: ``setup_tracing`` returns before any import.
Called from ``AnalyticsConfig.ready``, before the WSGI handler builds its middleware chain,
so the Django instrumentation's middleware is in it.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

_is_set_up = False


def setup_tracing() -> bool:
    """Instrument Django, psycopg, redis and Celery and start exporting, when ``OTEL_TRACES_ENABLED``; once."""
    global _is_set_up
    if not settings.OTEL_TRACES_ENABLED or _is_set_up:
        return _is_set_up
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "cloudshelf")})
    )
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument(tracer_provider=provider)
    PsycopgInstrumentor().instrument(tracer_provider=provider, skip_dep_check=True)
    RedisInstrumentor().instrument(tracer_provider=provider)
    CeleryInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
    _is_set_up = True
    return True


def tracer_provider() -> Any:
    """The provider traces go to (tests add their in-memory exporter to it)."""
    from opentelemetry import trace

    return trace.get_tracer_provider()
