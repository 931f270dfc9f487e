"""The rolling store: per route class and minute, a latency histogram; and the fleet's running totals.

**Buckets.** Durations fall into fixed log-spaced buckets: ``[0, 0.1 ms)``, then 48 per
decade from 0.1 ms to 100 s (each edge ``10^(1/48)`` ≈ 1.049 times the previous one), then
``[100 s, ∞)``: 290 buckets. A percentile is found by walking the merged counts to the
bucket holding its rank and interpolating linearly inside it, so the estimate and the true
value lie in the same bucket: the error is under 4.9 % (the bucket's width) above 0.1 ms,
under 0.1 ms below it, and a value past 100 s reads as 100 s.

**Where.** Each process adds its requests to counters in memory (``observe``) and writes them
to Redis at most every ``METRICS_FLUSH_SECONDS`` from whichever request finds the flush due,
and at exit: one Lua script call per key (the minute's, usually one, and the totals'), never a
round trip per request. Keys live
in the *durable* Redis: the cache Redis evicts under LRU, and a histogram missing an evicted
minute would give wrong percentiles without any sign; the durable one never evicts, and the
store is small (a minute's hash holds the non-empty buckets of eight classes, a few kB;
``METRICS_RETENTION_HOURS`` of them, each with its own TTL).

**Keys** (Redis Cluster-safe: each key has its own hash tag, and every command names one key):

* ``metrics:minute:{metrics:<unix minute>}`` — hash, fields ``<class>:b<bucket>`` (count in the
  bucket), ``<class>:n`` (requests), ``<class>:e`` (5xx answers); TTL ``METRICS_RETENTION_HOURS``.
* ``metrics:totals:{metrics:totals}`` — hash of cumulative counters since the store began, for
  ``/metrics``: ``<kind>:<name>:le<i>`` (count in Prometheus bucket ``i``), ``:n``, ``:e``, ``:s``
  (sum of seconds), where kind is ``route`` (name: a route class) or ``task`` (a task name).

Without Redis (the embedded default) the same counters are kept in this process. With Redis
down, a flush fails fast (``cloudshelf.redis_guard``) and its counts are dropped with one
warning: a request never fails or waits for its metrics.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.core.cache import caches

from analytics.metrics.classify import ROUTE_CLASSES
from cloudshelf.redis_keys import hash_tag

logger = logging.getLogger(__name__)

LOWEST_MS: Final = 0.1
BUCKETS_PER_DECADE: Final = 48
DECADES: Final = 6  # 0.1 ms .. 100 s
# EDGES[i] is the lower edge of bucket i; the last bucket (>= 100 s) has no upper edge.
EDGES: Final[tuple[float, ...]] = (
    0.0,
    *(LOWEST_MS * 10 ** (step / BUCKETS_PER_DECADE) for step in range(DECADES * BUCKETS_PER_DECADE + 1)),
)
OVERFLOW_BUCKET: Final = len(EDGES) - 1
# The largest relative error of a percentile above LOWEST_MS: one bucket's width.
RELATIVE_ERROR: Final = 10 ** (1 / BUCKETS_PER_DECADE) - 1

# Prometheus histogram buckets (upper bounds, seconds): the service levels are edges.
PROMETHEUS_BUCKETS_S: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

_MINUTE_KEY: Final = "metrics:minute:"
_TOTALS_KEY: Final = "metrics:totals:" + hash_tag("metrics:totals")


@dataclass(frozen=True)
class RoutePercentiles:
    """One route class over a window: how many requests, how many 5xx, and p50/p95/p99 (None when empty)."""

    route_class: str
    count: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


def bucket_of(duration_ms: float) -> int:
    """The histogram bucket of a duration."""
    if duration_ms < LOWEST_MS:
        return 0
    if not duration_ms < EDGES[OVERFLOW_BUCKET]:  # past 100 s, infinity and NaN alike
        return OVERFLOW_BUCKET
    index = min(int(math.log10(duration_ms / LOWEST_MS) * BUCKETS_PER_DECADE) + 1, OVERFLOW_BUCKET)
    # log10 may land one off right at an edge: settle it against the edges themselves.
    if duration_ms < EDGES[index]:
        return index - 1
    if index < OVERFLOW_BUCKET and duration_ms >= EDGES[index + 1]:
        return index + 1
    return index


def percentile_ms(counts: dict[int, int], fraction: float) -> float | None:
    """The ``fraction`` (0.95 for p95) percentile of a histogram ``{bucket: count}``, interpolated in its bucket."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = fraction * total
    seen = 0
    for bucket in sorted(counts):
        in_bucket = counts[bucket]
        if in_bucket <= 0:
            continue
        if seen + in_bucket >= rank:
            low = EDGES[bucket]
            if bucket == OVERFLOW_BUCKET:
                return low
            return low + (EDGES[bucket + 1] - low) * (rank - seen) / in_bucket
        seen += in_bucket
    return EDGES[max(counts)]  # only reached through float rounding of rank == total


class _Pending:
    """This process's counts not yet written: per minute, and the running totals."""

    def __init__(self) -> None:
        self.minutes: defaultdict[int, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.totals: defaultdict[str, float] = defaultdict(float)


_lock = threading.Lock()
_pending = _Pending()
_last_flush = time.monotonic()
_flush_warned = False
# The embedded default's store (no Redis): minute -> fields, and the totals.
_local_minutes: dict[int, defaultdict[str, int]] = {}
_local_totals: defaultdict[str, float] = defaultdict(float)


def _observe_totals(totals: defaultdict[str, float], prefix: str, duration_ms: float, is_error: bool) -> None:
    totals[f"{prefix}:le{bisect.bisect_left(PROMETHEUS_BUCKETS_S, duration_ms / 1000)}"] += 1
    totals[f"{prefix}:n"] += 1
    totals[f"{prefix}:s"] += duration_ms / 1000
    if is_error:
        totals[f"{prefix}:e"] += 1


def observe_request(*, route_class: str, duration_ms: float, is_error: bool, at: float | None = None) -> None:
    """Count one request in this process's memory; writes to the store when a flush is due."""
    minute = int((time.time() if at is None else at) // 60)
    bucket = bucket_of(duration_ms)
    with _lock:
        fields = _pending.minutes[minute]
        fields[f"{route_class}:b{bucket}"] += 1
        fields[f"{route_class}:n"] += 1
        if is_error:
            fields[f"{route_class}:e"] += 1
        _observe_totals(_pending.totals, f"route:{route_class}", duration_ms, is_error)
    flush_if_due()


def observe_task(*, task_name: str, duration_ms: float, is_failed: bool) -> None:
    """Count one Celery task run in the running totals (for ``/metrics``)."""
    with _lock:
        _observe_totals(_pending.totals, f"task:{task_name}", duration_ms, is_failed)
    flush_if_due()


def flush_if_due() -> None:
    """Flush when ``METRICS_FLUSH_SECONDS`` have passed since the last flush of this process."""
    if time.monotonic() - _last_flush >= settings.METRICS_FLUSH_SECONDS:
        flush()


def _take_pending() -> _Pending:
    global _pending, _last_flush
    with _lock:
        taken, _pending = _pending, _Pending()
        _last_flush = time.monotonic()
    return taken


def _retention_seconds() -> int:
    return int(settings.METRICS_RETENTION_HOURS * 3600)


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("durable")


def minute_key(minute: int) -> str:
    """The Redis key of one minute's histograms (named through the durable cache: test runs never share it)."""
    return caches["durable"].make_key(_MINUTE_KEY + hash_tag(f"metrics:{minute}"))


def totals_key() -> str:
    """The Redis key of the running totals."""
    return caches["durable"].make_key(_TOTALS_KEY)


# One script call per key adds every field (HINCRBY; HINCRBYFLOAT for the ":s" sums) and sets the
# key's TTL (ARGV[1], 0 = none): a flush of a busy process's hundreds of fields is one command per
# key instead of hundreds (measured: 7 ms as a pipeline of HINCRBYs, bench/bench_metrics.py).
_ADD_SCRIPT: Final = """
local key = KEYS[1]
for index = 2, #ARGV - 1, 2 do
  local field = ARGV[index]
  if string.sub(field, -2) == ':s' then
    redis.call('HINCRBYFLOAT', key, field, ARGV[index + 1])
  else
    redis.call('HINCRBY', key, field, ARGV[index + 1])
  end
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  redis.call('EXPIRE', key, ttl)
end
return 1
"""


def _pairs(fields: dict[str, int] | dict[str, float]) -> list[str]:
    pairs: list[str] = []
    for field, value in fields.items():
        pairs += (field, repr(float(value)) if field.endswith(":s") else str(int(value)))
    return pairs


def flush() -> None:
    """Write this process's pending counts to the store: one script call per key. Never raises."""
    global _flush_warned
    taken = _take_pending()
    if not taken.minutes and not taken.totals:
        return
    if not settings.REDIS_URL:
        _flush_locally(taken)
        return
    try:
        add = _redis().register_script(_ADD_SCRIPT)
        retention = _retention_seconds()
        for minute, fields in taken.minutes.items():
            add(keys=[minute_key(minute)], args=[retention, *_pairs(fields)])
        add(keys=[totals_key()], args=[0, *_pairs(taken.totals)])
        _flush_warned = False
    except Exception:  # metrics must never break a request: these counts are lost
        if not _flush_warned:  # one line per outage, not one per flush
            logger.warning("metrics: could not write to Redis; dropping counts until it answers", exc_info=True)
            _flush_warned = True


def _flush_locally(taken: _Pending) -> None:
    oldest = int(time.time() // 60) - _retention_seconds() // 60
    with _lock:
        for minute, fields in taken.minutes.items():
            stored = _local_minutes.setdefault(minute, defaultdict(int))
            for field, count in fields.items():
                stored[field] += count
        for field, value in taken.totals.items():
            _local_totals[field] += value
        for minute in [minute for minute in _local_minutes if minute < oldest]:
            del _local_minutes[minute]


def _read_minutes(minutes: list[int]) -> list[dict[str, int]]:
    if not settings.REDIS_URL:
        with _lock:
            return [dict(_local_minutes.get(minute, {})) for minute in minutes]
    pipeline = _redis().pipeline(transaction=False)
    for minute in minutes:
        pipeline.hgetall(minute_key(minute))
    return [{field.decode(): int(value) for field, value in raw.items()} for raw in pipeline.execute()]


def read_totals() -> dict[str, float]:
    """The fleet's running totals (this process's pending counts flushed first)."""
    flush()
    if not settings.REDIS_URL:
        with _lock:
            return dict(_local_totals)
    raw = _redis().hgetall(totals_key())
    return {field.decode(): float(value) for field, value in raw.items()}


def server_percentiles(*, minutes: int, now: float | None = None) -> dict[str, RoutePercentiles]:
    """p50/p95/p99, request and 5xx counts of every route class over the last ``minutes`` minutes.

    The minute histograms are merged (one pipelined read) and each percentile interpolated
    inside its bucket (module docstring: under 4.9 % off). This process's pending counts are
    flushed first; other processes' are at most ``METRICS_FLUSH_SECONDS`` behind.
    """
    if not 1 <= minutes <= settings.METRICS_RETENTION_HOURS * 60:
        raise ValueError(f"minutes must be between 1 and {settings.METRICS_RETENTION_HOURS * 60}, not {minutes}")
    flush()
    current = int((time.time() if now is None else now) // 60)
    histograms: dict[str, dict[int, int]] = {route_class: defaultdict(int) for route_class in ROUTE_CLASSES}
    counts = dict.fromkeys(ROUTE_CLASSES, 0)
    errors = dict.fromkeys(ROUTE_CLASSES, 0)
    for fields in _read_minutes(list(range(current - minutes + 1, current + 1))):
        for field, value in fields.items():
            route_class, _, kind = field.partition(":")
            if route_class not in histograms:
                continue
            if kind == "n":
                counts[route_class] += value
            elif kind == "e":
                errors[route_class] += value
            elif kind.startswith("b") and kind[1:].isdigit() and int(kind[1:]) <= OVERFLOW_BUCKET:
                histograms[route_class][int(kind[1:])] += value
    return {
        route_class: RoutePercentiles(
            route_class=route_class,
            count=counts[route_class],
            errors=errors[route_class],
            p50_ms=percentile_ms(histograms[route_class], 0.50),
            p95_ms=percentile_ms(histograms[route_class], 0.95),
            p99_ms=percentile_ms(histograms[route_class], 0.99),
        )
        for route_class in ROUTE_CLASSES
    }


def reset_for_tests() -> None:
    """Forget this process's pending counts and the embedded store (tests start from nothing)."""
    global _pending, _last_flush, _flush_warned
    with _lock:
        _pending = _Pending()
        _last_flush = time.monotonic()
        _flush_warned = False
        _local_minutes.clear()
        _local_totals.clear()


# Counts still in memory when a process ends (a gunicorn worker's restart, a Lambda's
# shutdown, the Celery worker) are written on the way out.
atexit.register(flush)
