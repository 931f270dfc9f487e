"""Named circuit breakers around remote dependencies, shared by every process through Redis.

One breaker per remote dependency, each defined next to the code that calls it and each
with its own numbers (a ``BreakerPolicy``, read from settings on every call so a test or an
operator changing them takes effect at once):

============  ==============================  ===========================================
name          defined in                      while open
============  ==============================  ===========================================
opensearch    ``search.breaker``              searches answered by Postgres
dynamodb      ``catalog.hot.reads``           hot reads answered by Postgres
cloudfront    ``cloudshelf.edge.cdn``         invalidations wait (pending), sent later
payment       ``cart.payments``               checkout says payments are unavailable
============  ==============================  ===========================================

Constructing a ``CircuitBreaker`` registers it by name; ``all_breakers()`` lists them and
``breaker_states()`` reads every state with one ``MGET`` (``/health/ready``, ``/metrics``).
States, as customers feel them:

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
healthy call writes nothing. Every breaker's keys share one hash tag (``{circuit-breakers}``),
so on a Redis Cluster the states of all of them are still one ``MGET`` of one slot (a small,
read-mostly load on one node). Without Redis (the embedded default), or while Redis
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
# The trips counter (for /metrics) lives this long after the first trip; Prometheus takes its
# expiry as a counter reset.
TRIPS_SECONDS = 365 * 24 * 60 * 60
# The hash tag of every breaker key: all states in one slot, so one MGET reads them all.
KEYS_TAG = hash_tag("circuit-breakers")
# The state as a number, for /metrics.
STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


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


def _store() -> BreakerStore:
    if settings.REDIS_URL:
        try:
            return RedisStore()
        except Exception:  # no Redis client means process memory, not an error page
            logger.warning("breaker: Redis unavailable, using process memory", exc_info=True)
    return _memory_store


def _call(operation: Callable[[BreakerStore], T]) -> T:
    """Run ``operation`` on Redis, or on process memory when Redis fails."""
    store = _store()
    try:
        return operation(store)
    except Exception:  # a Redis outage must not turn calls into errors
        if store is _memory_store:
            raise
        logger.warning("breaker: Redis call failed, using process memory", exc_info=True)
        return operation(_memory_store)


_registry: dict[str, CircuitBreaker] = {}
_registry_lock = threading.Lock()


def all_breakers() -> list[CircuitBreaker]:
    """Every registered breaker, by name (a stable order for health checks and metrics)."""
    with _registry_lock:
        return [_registry[name] for name in sorted(_registry)]


@dataclass(frozen=True)
class BreakerReading:
    """One breaker as ``breaker_states`` read it: its state and how often it has tripped."""

    name: str
    description: str
    state: str
    trips: int


def breaker_states(breakers: list[CircuitBreaker] | None = None) -> list[BreakerReading]:
    """The state of ``breakers`` (default: all of them) from one ``MGET``, in their order."""
    chosen = all_breakers() if breakers is None else breakers
    keys = [key for breaker in chosen for key in breaker._state_keys()]
    if not keys:
        return []
    values = _call(lambda store: store.get_many(keys))
    readings = []
    for index, breaker in enumerate(chosen):
        is_open, is_tripped, trips = values[index * 3 : index * 3 + 3]
        readings.append(BreakerReading(breaker.name, breaker.description, _state_of(is_open, is_tripped), trips))
    return readings


def cache_key_prefix() -> str:
    """The cache's own key prefix (``cs:1:``), for breakers whose dependency has no name of its
    own per environment: each test process has its own prefix, and emptying the cache (as each
    test does) closes these breakers too."""
    from django.core.cache import caches

    return str(caches["default"].make_key(""))


def _state_of(is_open: int, is_tripped: int) -> str:
    if is_open:
        return OPEN
    return HALF_OPEN if is_tripped else CLOSED


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
    ``description`` tells operators what the breaker guards and what happens while it is open.
    Constructing one registers it under ``name`` (a second breaker of the same name is a bug
    and raises ``ValueError``); ``register=False`` makes a throwaway one (tests, benchmarks).
    """

    def __init__(
        self, name: str, *, policy: Callable[[], BreakerPolicy], description: str = "", register: bool = True
    ) -> None:
        if not name or not isinstance(name, str) or any(character in name for character in "{}:\n"):
            raise ValueError(f"a breaker's name is a short word without braces, colons or newlines: {name!r:.80}")
        self.name = name
        self.description = description
        self._policy = policy
        if register:
            with _registry_lock:
                if name in _registry:
                    raise ValueError(f"a circuit breaker named {name!r} is already registered")
                _registry[name] = self

    @property
    def policy(self) -> BreakerPolicy:
        return self._policy()

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r})"

    # Keys carry the policy's prefix: the tests' breaker is not the running stack's breaker.
    # All breakers share one hash tag, so the MGET of every state reads one Redis Cluster slot.
    def _key(self, part: str) -> str:
        return f"{self.policy.key_prefix}breaker:{KEYS_TAG}:{self.name}:{part}"

    def _state_keys(self) -> list[str]:
        return [self._key("open"), self._key("tripped"), self._key("trips")]

    @staticmethod
    def _call(operation: Callable[[BreakerStore], T]) -> T:
        return _call(operation)

    @property
    def state(self) -> str:
        """``CLOSED``, ``OPEN`` or ``HALF_OPEN``, from one ``MGET``."""
        keys = [self._key("open"), self._key("tripped")]
        is_open, is_tripped = _call(lambda store: store.get_many(keys))
        return _state_of(is_open, is_tripped)

    @property
    def accepts_calls(self) -> bool:
        """Whether ``acquire`` would give a call now (closed, or half-open with no probe under way),
        from one ``MGET``: for a caller with work to do before the call that is wasted if it is refused."""
        keys = [self._key("open"), self._key("tripped"), self._key("probe")]
        is_open, is_tripped, is_probing = _call(lambda store: store.get_many(keys))
        return not is_open and not (is_tripped and is_probing)

    def acquire(self) -> Attempt | None:
        """Permission to call the dependency now, or ``None``: use the fallback without trying."""
        keys = [self._key("open"), self._key("tripped"), self._key("failures")]
        is_open, is_tripped, failures = _call(lambda store: store.get_many(keys))
        if is_open:
            return None
        if not is_tripped:
            return Attempt(is_probe=False, had_failures=bool(failures))
        # Half-open: one probe at a time, for at most a few client timeouts.
        probe_seconds = self.policy.probe_seconds
        probe_key = self._key("probe")
        if _call(lambda store: store.put(probe_key, probe_seconds, only_if_absent=True)):
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
        if _call(lambda store: store.increment(failures_key, policy.window)) >= policy.failures:
            self._trip_unless_tripped(policy)

    def _trip_unless_tripped(self, policy: BreakerPolicy) -> None:
        """``trip``, once per outage: of the calls that were in flight when the dependency died,
        those failing after it opened are late news of the same outage, not a second opening (the
        trips counter) nor a longer cool-down; once half-open only the probe decides."""
        tripped_key = self._key("tripped")
        tripped_seconds = max(TRIPPED_SECONDS, policy.cooldown * 2)
        if _call(lambda store: store.put(tripped_key, tripped_seconds, only_if_absent=True)):
            self.trip()

    def release(self, attempt: Attempt) -> None:
        """Give back an attempt that made no call (nothing to send): a probe's turn goes to the next caller."""
        if attempt.is_probe:
            self._delete("probe")

    def trip(self) -> None:
        """Open the breaker now (also used to force the fallback in benchmarks and tests)."""
        cooldown = self.policy.cooldown
        self._put("open", cooldown)
        self._put("tripped", max(TRIPPED_SECONDS, cooldown * 2))
        self._delete("failures")
        trips_key = self._key("trips")
        _call(lambda store: store.increment(trips_key, TRIPS_SECONDS))
        logger.warning("breaker %s open: calls use the fallback for %ss", self.name, cooldown)

    def reset(self) -> None:
        """Close the breaker and forget every failure (the trips counter stays)."""
        self._delete("open", "tripped", "probe", "failures")

    def _put(self, part: str, ttl_seconds: float) -> None:
        key = self._key(part)
        _call(lambda store: store.put(key, ttl_seconds))

    def _delete(self, *parts: str) -> None:
        keys = [self._key(part) for part in parts]
        _call(lambda store: store.delete(*keys))
