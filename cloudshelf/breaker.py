"""Named circuit breakers around remote dependencies, shared by every process through Redis.

One breaker per dependency (OpenSearch: ``search.breaker``; DynamoDB: ``catalog.hot``),
each with its own numbers (a ``BreakerPolicy``, read from settings on every call so a
test or an operator changing them takes effect at once). States, as customers feel them:

* **closed** — calls go to the dependency. Each failure or timeout is counted; the count
  lives ``window`` seconds and a success clears it, so only failures in a row within
  that window add up.
* **open** — after ``failures`` of them every call goes straight to the fallback
  (Postgres), without waiting for a sick node, for ``cooldown`` seconds.
* **half-open** — after the cool-down exactly one call (whichever process wins a
  ``SET NX``) probes the dependency while the others keep using the fallback; its success
  closes the breaker, its failure opens it for another cool-down.

State lives in Redis so all gunicorn workers and hosts agree: one process noticing the
outage spares the others their timeouts. A request reads it with one ``MGET`` and a
healthy call writes nothing. Without Redis (the embedded default), or while Redis
itself is unreachable, the same logic runs on process memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from django.conf import settings

from cloudshelf.redis_keys import hash_tag

logger = logging.getLogger(__name__)

T = TypeVar("T")
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# How long the tripped marker outlives the cool-down: long enough to always see the probe through.
TRIPPED_SECONDS = 24 * 60 * 60


class BreakerStore(Protocol):
    def get_many(self, keys: list[str]) -> list[int]: ...
    def increment(self, key: str, ttl_seconds: float) -> int: ...
    def put(self, key: str, ttl_seconds: float, *, only_if_absent: bool = False) -> bool: ...
    def delete(self, *keys: str) -> None: ...


class MemoryStore:
    """Process-local keys with expiry: the embedded default's store, and Redis's stand-in."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> int | None:
        item = self._values.get(key)
        if item is None or item[1] <= now:
            self._values.pop(key, None)
            return None
        return item[0]

    def get_many(self, keys: list[str]) -> list[int]:
        now = time.monotonic()
        with self._lock:
            return [self._live(key, now) or 0 for key in keys]

    def increment(self, key: str, ttl_seconds: float) -> int:
        now = time.monotonic()
        with self._lock:
            current = self._live(key, now)
            expires = self._values[key][1] if current is not None else now + ttl_seconds
            value = (current or 0) + 1
            self._values[key] = (value, expires)
            return value

    def put(self, key: str, ttl_seconds: float, *, only_if_absent: bool = False) -> bool:
        now = time.monotonic()
        with self._lock:
            if only_if_absent and self._live(key, now) is not None:
                return False
            self._values[key] = (1, now + ttl_seconds)
            return True

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)


class RedisStore:
    """The same keys in Redis (the cache's server, raw connection), with server-side expiry."""

    def __init__(self) -> None:
        from django_redis import get_redis_connection

        self._redis = get_redis_connection("default")

    def get_many(self, keys: list[str]) -> list[int]:
        return [int(value) if value is not None else 0 for value in self._redis.mget(keys)]

    def increment(self, key: str, ttl_seconds: float) -> int:
        pipeline = self._redis.pipeline()
        pipeline.incr(key)
        pipeline.pexpire(key, int(ttl_seconds * 1000), nx=True)
        value, _ = pipeline.execute()
        return int(value)

    def put(self, key: str, ttl_seconds: float, *, only_if_absent: bool = False) -> bool:
        return bool(self._redis.set(key, 1, px=max(1, int(ttl_seconds * 1000)), nx=only_if_absent))

    def delete(self, *keys: str) -> None:
        self._redis.delete(*keys)


_memory_store = MemoryStore()


@dataclass(frozen=True)
class BreakerPolicy:
    """One breaker's numbers: trip after ``failures`` within ``window`` seconds, stay open
    ``cooldown`` seconds, give the half-open probe ``probe_seconds``; keys start with ``key_prefix``."""

    failures: int
    window: float
    cooldown: float
    probe_seconds: float
    key_prefix: str


@dataclass(frozen=True)
class Attempt:
    """Permission to call the dependency once; ``is_probe`` marks the half-open trial call."""

    is_probe: bool
    had_failures: bool


class CircuitBreaker:
    """The breaker for one dependency (see the module docstring).

    ``policy`` is called whenever the breaker needs its numbers, so they follow settings.
    """

    def __init__(self, name: str, *, policy: Callable[[], BreakerPolicy]) -> None:
        self.name = name
        self._policy = policy

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy()

    # Keys carry the policy's prefix: the tests' breaker is not the running stack's breaker. The
    # breaker's name is their hash tag, so the MGET of its state reads one Redis Cluster slot.
    def _key(self, part: str) -> str:
        return f"{self.policy.key_prefix}breaker:{hash_tag(self.name)}:{part}"

    def _store(self) -> BreakerStore:
        if settings.REDIS_URL:
            try:
                return RedisStore()
            except Exception:  # no Redis client means process memory, not an error page
                logger.warning("breaker: Redis unavailable, using process memory", exc_info=True)
        return _memory_store

    def _call(self, operation: Callable[[BreakerStore], T]) -> T:
        """Run ``operation`` on Redis, or on process memory when Redis fails."""
        store = self._store()
        try:
            return operation(store)
        except Exception:  # a Redis outage must not turn calls into errors
            if store is _memory_store:
                raise
            logger.warning("breaker: Redis call failed, using process memory", exc_info=True)
            return operation(_memory_store)

    def state(self) -> str:
        keys = [self._key("open"), self._key("tripped")]
        is_open, is_tripped = self._call(lambda store: store.get_many(keys))
        if is_open:
            return OPEN
        return HALF_OPEN if is_tripped else CLOSED

    def acquire(self) -> Attempt | None:
        """Permission to call the dependency now, or ``None``: use the fallback without trying."""
        keys = [self._key("open"), self._key("tripped"), self._key("failures")]
        is_open, is_tripped, failures = self._call(lambda store: store.get_many(keys))
        if is_open:
            return None
        if not is_tripped:
            return Attempt(is_probe=False, had_failures=bool(failures))
        # Half-open: one probe at a time, for at most a few client timeouts.
        probe_seconds = self.policy.probe_seconds
        probe_key = self._key("probe")
        if self._call(lambda store: store.put(probe_key, probe_seconds, only_if_absent=True)):
            return Attempt(is_probe=True, had_failures=True)
        return None

    def record_success(self, attempt: Attempt) -> None:
        if attempt.is_probe:
            self._delete("tripped", "open", "probe", "failures")
            logger.info("breaker %s closed: the dependency answers again", self.name)
        elif attempt.had_failures:
            self._delete("failures")

    def record_failure(self, attempt: Attempt) -> None:
        policy = self.policy
        if attempt.is_probe:
            self._put("open", policy.cooldown)
            self._delete("probe")
            logger.warning("breaker %s: the probe failed, open for another %ss", self.name, policy.cooldown)
            return
        failures_key = self._key("failures")
        if self._call(lambda store: store.increment(failures_key, policy.window)) >= policy.failures:
            self.trip()

    def trip(self) -> None:
        """Open the breaker now (also used to force the fallback in benchmarks and tests)."""
        cooldown = self.policy.cooldown
        self._put("open", cooldown)
        self._put("tripped", max(TRIPPED_SECONDS, cooldown * 2))
        self._delete("failures")
        logger.warning("breaker %s open: calls use the fallback for %ss", self.name, cooldown)

    def reset(self) -> None:
        """Close the breaker and forget every failure."""
        self._delete("open", "tripped", "probe", "failures")

    def _put(self, part: str, ttl_seconds: float) -> None:
        key = self._key(part)
        self._call(lambda store: store.put(key, ttl_seconds))

    def _delete(self, *parts: str) -> None:
        keys = [self._key(part) for part in parts]
        self._call(lambda store: store.delete(*keys))
