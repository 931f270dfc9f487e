"""Time, classify and count every request: one EMF line, the rolling store, a slow-request warning.

``MetricsMiddleware`` is first in ``MIDDLEWARE``, so it times everything below it, WhiteNoise's
static files and the page cache's replays included (a streamed body is timed until Django
hands it to gunicorn). Per request it adds, measured in bench/bench_metrics.py (figures in
docs/observability.md), well under the 0.2 ms budget:

* query count and time on every database alias, through ``execute_wrappers`` (one Python
  call around each query; the wrapper list is the connection's own, per thread);
* the page cache's outcome from its ``X-Page-Cache`` header (``hit``/``stale`` = one cache hit);
* one EMF line (``emf``), counts added to the store in memory (``store.observe_request``:
  Redis is written at most every ``METRICS_FLUSH_SECONDS``), and a warning past the class's
  threshold (``classify.slow_threshold_ms``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponseBase

from analytics.metrics import emf, store
from analytics.metrics.classify import classify, slow_threshold_ms

logger = logging.getLogger(__name__)

_CACHE_HIT_STATES = frozenset({"hit", "stale"})


class QueryCounter:
    """An ``execute_wrapper`` counting the queries of one request and the time they took."""

    __slots__ = ("count", "seconds")

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - started


class MetricsMiddleware:
    """Measure each request (see the module docstring); never fails a request over its metrics."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.METRICS_ENABLED:
            return self.get_response(request)
        counter = QueryCounter()
        wrapped = [connections[alias].execute_wrappers for alias in settings.DATABASES]
        for wrappers in wrapped:
            wrappers.append(counter)
        started = time.perf_counter()
        status = 500  # what the client gets when the view raises past Django's handler
        page_cache = ""
        try:
            response = self.get_response(request)
            status = response.status_code
            page_cache = response.get("X-Page-Cache", "")
            return response
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            for wrappers in wrapped:
                wrappers.remove(counter)
            try:
                self._record(request, status, duration_ms, counter, page_cache)
            except Exception:  # the answer is already made: a metrics bug must not turn it into a 500
                logger.exception("metrics: could not record a request")

    def _record(
        self, request: HttpRequest, status: int, duration_ms: float, counter: QueryCounter, page_cache: str
    ) -> None:
        route_class, route = classify(request.path, getattr(request, "resolver_match", None))
        is_error = status >= 500
        emf.emit_request(
            {
                "RouteClass": route_class,
                "Route": route,
                "Duration": round(duration_ms, 3),
                "QueryCount": counter.count,
                "CacheHits": 1 if page_cache in _CACHE_HIT_STATES else 0,
                "Errors": 1 if is_error else 0,
                "Status": status,
                "Method": request.method,
                "QueryTime": round(counter.seconds * 1000, 3),
                "PageCache": page_cache or "none",
            }
        )
        store.observe_request(route_class=route_class, duration_ms=duration_ms, is_error=is_error)
        if duration_ms > slow_threshold_ms(route_class):
            emf.warn_slow(
                "slow_request",
                {
                    "route": route,
                    "route_class": route_class,
                    "method": request.method,
                    "status": status,
                    "duration_ms": round(duration_ms, 3),
                    "threshold_ms": slow_threshold_ms(route_class),
                    "query_count": counter.count,
                    "query_ms": round(counter.seconds * 1000, 3),
                    "page_cache": page_cache or "none",
                },
            )
