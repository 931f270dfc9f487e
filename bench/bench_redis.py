"""Redis operations one request makes, on one Redis or on a Redis Cluster, in-process.

The data-tier issue puts the cart, the limiter and the caches on Redis Cluster-safe keys; a
cluster adds a hop for anything spread over several slots. This measures, from one process,
the operations whose shape changed: a cart add (one Lua script), reading a cart, ``get_many``
of ten unrelated cache keys (one ``MGET`` on one Redis; one per slot on a cluster), and a
visitor's cart merged into a customer's at log-in (one script on one Redis before; three
single-slot steps now). Each is timed over many calls after a warm-up; p50/p95/p99 and the
calls per second are printed.

Which Redis is whatever the settings say: ``make bench NAME=redis`` measures the stack's
single-node roles; with ``REDIS_CLUSTER=1`` and the cluster's seed URLs (``make
bench-redis-cluster``) the local three-master cluster. Every key it writes is under a
``bench-redis-<pid>`` cart owner or cache key and is deleted afterwards.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import django

CALLS = int(os.environ.get("BENCH_REDIS_CALLS", "3000"))
WARMUP_CALLS = 200


@dataclass
class RedisRun:
    """One operation timed ``len(micros)`` times."""

    name: str
    micros: list[float]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def _percentile(self, fraction: float) -> float:
        ordered = sorted(self.micros)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] / 1000

    def summary_line(self) -> str:
        total_s = sum(self.micros) / 1e6
        rate = len(self.micros) / total_s if total_s else 0.0
        return (
            f"redis: {self.name:<34} p50={self._percentile(0.50):6.3f} p95={self._percentile(0.95):6.3f} "
            f"p99={self._percentile(0.99):6.3f} ms  mean={statistics.fmean(self.micros) / 1000:6.3f} ms  "
            f"{rate:8.0f} calls/s  n={len(self.micros)}"
        )


def _timed(name: str, operation: Callable[[int], object], calls: int) -> RedisRun:
    for index in range(WARMUP_CALLS):
        operation(index)
    micros = []
    for index in range(calls):
        started = time.perf_counter()
        operation(WARMUP_CALLS + index)
        micros.append((time.perf_counter() - started) * 1e6)
    return RedisRun(name=name, micros=micros)


def run(base_url: str) -> list[RedisRun]:
    """``base_url`` is not used: the operations are timed in this process, against the settings' Redis."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from cart.store import CartLimits, anonymous_cart, customer_cart, get_store

    if not settings.REDIS_URL:
        raise SystemExit("the Redis benchmark needs REDIS_URL (make up, or the cluster's seed URLs)")
    store = get_store()
    limits = CartLimits(max_lines=100, max_quantity=10**9)
    owner = 10**9 + os.getpid()
    cart = customer_cart(owner)
    keys = [f"bench-redis-{os.getpid()}:{number}" for number in range(10)]
    cache.set_many(dict.fromkeys(keys, "x"), timeout=600)
    visitor_carts = []

    def add(index: int) -> None:
        store.add(cart, book_id=index % 50 + 1, quantity=1, price=Decimal("9.99"), stock=10**9, limits=limits)

    def merge(index: int) -> None:
        visitor = anonymous_cart(f"bench-redis-{os.getpid()}-{index}")
        visitor_carts.append(visitor)
        store.add(visitor, book_id=1, quantity=1, price=Decimal("1.00"), stock=10**9, limits=limits)
        store.merge(visitor, cart, caps={}, limits=limits)

    mode = "cluster" if settings.REDIS_CLUSTER else "single node"
    try:
        results = [
            _timed(f"cart add, {mode}", add, CALLS),
            _timed(f"cart read, {mode}", lambda _index: store.lines(cart, refresh=True), CALLS),
            _timed(f"get_many of 10 keys, {mode}", lambda _index: cache.get_many(keys), CALLS),
            _timed(f"visitor cart add + merge, {mode}", merge, CALLS // 3),
        ]
    finally:
        store.clear(cart)
        for visitor in visitor_carts:
            store.clear(visitor)
        cache.delete_many(keys)
        _delete_merge_markers(store, cart.key)
    return results


def _delete_merge_markers(store: object, cart_key: str) -> None:
    """The merges' "applied" markers (kept a day past the cart), so no run leaves keys behind."""
    client, make_key = getattr(store, "client", None), getattr(store, "make_key", None)
    if client is None or make_key is None:
        return
    for key in client.scan_iter(match=make_key(cart_key) + ":merged:*", count=1000):
        client.delete(key)
