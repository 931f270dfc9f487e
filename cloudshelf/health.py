"""Liveness and readiness probes.

``/health`` answers from the process alone: the load balancer calls it every few
seconds, so it must stay cheap and must not fail because a dependency is slow.

``/health/ready`` runs ``READINESS_CHECKS``. Only the database is required: without it
nothing works, so the answer is 503 and the balancer takes the node out. Every other
dependency failing makes the answer "degraded" with a 200, because the pages still answer
(the cache misses to Postgres, the cart says it is unavailable, search falls back to
Postgres) and taking every node out would turn a partial outage into a total one.

The public sees ``{"status": ...}`` only; the checks with their timings and error text go
to staff users and to callers sending ``HEALTH_DETAILS_TOKEN`` in ``X-Health-Token``
(dependency errors name hosts and ports). Answers stay bounded when Redis hangs: Redis
calls go through ``cloudshelf.redis_guard``, and the broker check is reused for
``HEALTH_BROKER_CHECK_SECONDS``.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from catalog.hot.health import probe_hot_data
from cloudshelf import db_router, redis_guard
from cloudshelf.breaker import CLOSED, breaker_states
from cloudshelf.features.health import probe_shedding
from cloudshelf.heartbeat import workers_alive
from search.health import probe_search

DETAILS_HEADER = "HTTP_X_HEALTH_TOKEN"


class Degraded(RuntimeError):
    """A probe's failure that still reports its figures (``run_check`` shows both)."""

    def __init__(self, message: str, figures: Mapping[str, object]) -> None:
        super().__init__(message)
        self.figures = figures


@dataclass(frozen=True)
class ReadinessCheck:
    name: str
    probe: Callable[[], Mapping[str, object] | None]  # raises when unusable; may return figures to report
    required: bool  # a failing required check makes the whole answer 503


def probe_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _probe_redis_alias(alias: str) -> None:
    """Ping one Redis alias directly: the cache client swallows errors, the probe must not."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection(alias).ping()
        return
    cache = caches[alias]
    cache.set("health:probe", "1", 5)
    if cache.get("health:probe") != "1":
        raise RuntimeError("in-process cache did not return what was stored")


def probe_cache() -> None:
    """The evictable cache ("default", and with it "fragments" and "pages")."""
    _probe_redis_alias("default")


def probe_durable() -> None:
    """The durable Redis: carts, sessions' cache, rate limits."""
    _probe_redis_alias("durable")


class _BrokerMemo:
    """The broker check's last outcome, reused for ``HEALTH_BROKER_CHECK_SECONDS``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.error: str | None = None

    def clear(self) -> None:
        with self.lock:
            self.checked_at, self.error = float("-inf"), None


broker_memo = _BrokerMemo()


def _check_broker_now() -> None:
    url = settings.CELERY_BROKER_URL
    parts = urlsplit(url)
    # The broker of `make up` is the durable Redis: if this process just found it hung, say so
    # at once rather than wait for a second timeout.
    if parts.hostname and parts.port and redis_guard.is_marked_down(parts.hostname, parts.port):
        raise RuntimeError(f"broker Redis at {parts.hostname}:{parts.port} failed moments ago")
    from kombu.connection import Connection

    # A fresh connection, not the app's pool: the probe must see the broker as it is now.
    timeouts = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    with Connection(url, connect_timeout=0.5, transport_options=timeouts) as conn:  # type: ignore[no-untyped-call]
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=0.5)


def probe_broker() -> None:
    """Reach the broker, at most once per ``HEALTH_BROKER_CHECK_SECONDS`` per process."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # tasks run in-process; there is no broker to reach
    with broker_memo.lock:
        if time.monotonic() - broker_memo.checked_at >= settings.HEALTH_BROKER_CHECK_SECONDS:
            try:
                _check_broker_now()
            except Exception as failure:  # noqa: BLE001 - remembered and reported below
                broker_memo.error = str(failure) or type(failure).__name__
            else:
                broker_memo.error = None
            broker_memo.checked_at = time.monotonic()
        remembered = broker_memo.error
    if remembered is not None:
        raise RuntimeError(remembered)


def search_changes_waiting() -> int:
    """Book ids queued for the search index and not yet synced (the search app's pending set)."""
    from search.services import search_pending_count

    return search_pending_count()


def probe_index_sync() -> None:
    """ "index sync stalled": book changes wait for the index and no Celery worker is alive."""
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.REDIS_URL:
        return  # changes are indexed in-process
    waiting = search_changes_waiting()
    if waiting and not workers_alive():
        raise RuntimeError(f"index sync stalled: {waiting} book changes queued and no Celery worker alive")


def probe_replica() -> dict[str, object]:
    """The read replica (``DATABASE_REPLICA_URL``): its lag, as this process last measured it.

    Down, or behind ``DATABASE_REPLICA_MAX_LAG_SECONDS``, is degraded: its reads go to the
    primary meanwhile (``cloudshelf.db_router``). Measured at most once a second, and a
    replica found down is not tried again for ``DATABASE_REPLICA_DOWN_MEMO_SECONDS``, so a
    probe every second costs no connect timeout each.
    """
    if not db_router.is_replica_in_use():
        return {"in_use": False}
    state = db_router.replica_state()
    if not state.is_up:
        raise RuntimeError(f"replica down, reads on the primary: {state.error}")
    lag = round(state.lag_seconds or 0.0, 3)
    if not state.is_usable:
        bound = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        raise RuntimeError(f"replica {lag} s behind (bound {bound} s), reads on the primary")
    return {"lag_seconds": lag}


def probe_breakers() -> dict[str, object]:
    """Every circuit breaker's state (``cloudshelf.breaker``, one ``MGET``); degraded naming
    the ones not closed, since their dependency is then skipped for its fallback."""
    states = {reading.name: reading.state for reading in breaker_states()}
    not_closed = [f"{name} {state}" for name, state in states.items() if state != CLOSED]
    if not_closed:
        raise Degraded("circuit breakers not closed: " + ", ".join(not_closed), {"breakers": states})
    return {"breakers": states}


READINESS_CHECKS: list[ReadinessCheck] = [
    ReadinessCheck("database", probe_database, required=True),
    # Degraded, not down: pages answer from Postgres, the cart says it is unavailable.
    ReadinessCheck("cache", probe_cache, required=False),
    ReadinessCheck("durable", probe_durable, required=False),
    ReadinessCheck("broker", probe_broker, required=False),
    # Degraded, not down: the database fallback answers searches while OpenSearch is away.
    ReadinessCheck("search", probe_search, required=False),
    ReadinessCheck("index_sync", probe_index_sync, required=False),
    # Degraded, not down: Postgres answers the partner API's hot reads while DynamoDB is away.
    ReadinessCheck("hot_data", probe_hot_data, required=False),
    # Degraded, not down: the primary answers the replica's reads while it is down or behind.
    ReadinessCheck("replica", probe_replica, required=False),
    # Degraded, not down: overloaded, so non-essential features are off (cloudshelf.features).
    ReadinessCheck("shedding", probe_shedding, required=False),
    # Degraded, not down: every breaker has a fallback (or, for payments, a clear refusal).
    ReadinessCheck("breakers", probe_breakers, required=False),
]


def run_check(check: ReadinessCheck) -> dict[str, object]:
    """Run one probe and describe the outcome as ``{"status", "ms", "required", ["error"]}``."""
    started = time.perf_counter()
    try:
        figures = check.probe()
    except Exception as error:  # noqa: BLE001 - any failure means "not ready", and we report it
        message = str(error) or type(error).__name__
        result: dict[str, object] = {
            **getattr(error, "figures", {}),
            "status": "down" if check.required else "degraded",
            "error": message[:200],
        }
    else:
        result = {**(figures or {}), "status": "ok"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["required"] = check.required
    return result


def may_see_details(request: HttpRequest) -> bool:
    """Staff users, and callers presenting ``HEALTH_DETAILS_TOKEN`` (compared in constant time)."""
    token = settings.HEALTH_DETAILS_TOKEN
    given = request.META.get(DETAILS_HEADER, "")
    if token and given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False  # no session, no staff user: skip the session and user lookups
    try:
        return bool(request.user.is_staff)
    except Exception:  # noqa: BLE001 - database or session store down: no details, never a 500
        return False


@require_safe
@never_cache
def liveness(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


class LivenessMiddleware:
    """Answers ``/health`` before anything reads the Host header.

    A load balancer probing a container by its address (an ECS task behind an ALB sends
    ``Host: 10.0.1.23:8000``) cannot send a host in ``ALLOWED_HOSTS``, and it cannot add one:
    Django would answer 400 and the task would never count as healthy. Liveness says only
    "this process answers", so it needs neither the host, the session nor the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == "/health":
            # What URL resolution would have recorded: the metrics name the route "health".
            request.resolver_match = resolve(request.path_info)
            return liveness(request)
        return self.get_response(request)


@require_safe
@never_cache
def readiness(request: HttpRequest) -> JsonResponse:
    checks = {check.name: run_check(check) for check in READINESS_CHECKS}
    is_ready = all(result["status"] == "ok" for result in checks.values() if result["required"])
    degraded = any(result["status"] != "ok" for result in checks.values())
    status = "ok" if is_ready and not degraded else ("degraded" if is_ready else "down")
    body: dict[str, object] = {"status": status}
    if may_see_details(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if is_ready else 503)
