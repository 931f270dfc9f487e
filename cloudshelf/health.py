"""Liveness and readiness probes.

``/health`` answers from the process alone: the load balancer calls it every few
seconds, so it must stay cheap and must not fail because a dependency is slow.
``/health/ready`` checks each dependency and reports status and milliseconds; later
issues add their checks to ``READINESS_CHECKS`` (search, broker, …).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from search.health import probe_search


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    probe: Callable[[], None]  # raises when the dependency is unusable
    required: bool  # a failing required check makes the whole answer 503


def probe_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def probe_cache() -> None:
    """Ping Redis directly: the cache client is told to swallow errors, the probe must not."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
        return
    cache.set("health:probe", "1", 5)
    if cache.get("health:probe") != "1":
        raise RuntimeError("in-process cache did not return what was stored")


def probe_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run in-process; there is no broker to reach
    from kombu import Connection

    # A fresh connection, not the app's pool: the probe must see the broker as it is now.
    timeouts = {"socket_connect_timeout": 1, "socket_timeout": 1}
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1, transport_options=timeouts) as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)


READINESS_CHECKS: list[ReadinessCheck] = [
    ReadinessCheck("database", probe_database, required=True),
    ReadinessCheck("cache", probe_cache, required=True),
    ReadinessCheck("broker", probe_broker, required=False),
    # Degraded, not down: the database fallback answers searches while OpenSearch is away.
    ReadinessCheck("search", probe_search, required=False),
]


def run_check(check: ReadinessCheck) -> dict[str, object]:
    """Run one probe and describe the outcome as ``{"status", "ms", ["error"]}``."""
    started = time.perf_counter()
    try:
        check.probe()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready", and we report it
        result: dict[str, object] = {"status": "down" if check.required else "degraded", "error": str(error)[:200]}
    else:
        result = {"status": "ok"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["required"] = check.required
    return result


@require_safe
@never_cache
def liveness(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_safe
@never_cache
def readiness(request: HttpRequest) -> JsonResponse:
    checks = {check.name: run_check(check) for check in READINESS_CHECKS}
    is_ready = all(result["status"] == "ok" for result in checks.values() if result["required"])
    degraded = any(result["status"] != "ok" for result in checks.values())
    status = "ok" if is_ready and not degraded else ("degraded" if is_ready else "down")
    return JsonResponse({"status": status, "checks": checks}, status=200 if is_ready else 503)
