"""Fail fast on a Redis that is known to be down, instead of waiting for it on every call.

A Redis that *refuses* connections costs a request nothing; one that *hangs* (a frozen
process, a full network buffer, a dead host that drops packets) costs the whole socket
timeout (``REDIS_SOCKET_TIMEOUT``, 0.5 s) on every call, and a page makes several. So
after a timeout or a failed connect, this process remembers "Redis at host:port is down"
for ``REDIS_DOWN_MEMO_SECONDS`` and every call to that server raises ``RedisMarkedDown``
at once. The cache treats that like any other Redis error (a miss), the cart reports
itself unavailable, and after the memo lapses the next call tries the server again.

``RedisCache`` is the cache backend of every Redis alias (django-redis's, one method
changed) and ``GuardedConnection`` (``GuardedSSLConnection`` for a ``rediss://`` URL:
``guarded_connection_class``) the redis-py connection class of every one
(``CONNECTION_POOL_KWARGS["connection_class"]`` in settings). The memo is per process and
per server, so a sick cache Redis does not stop the durable one being used, and a worker
process learns on its own.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django_redis.cache import RedisCache as DjangoRedisCache
from redis.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

DEFAULT_MEMO_SECONDS = 5.0

# (host, port) -> time.monotonic() until which the server counts as down.
_down_until: dict[tuple[str, int], float] = {}
_lock = threading.Lock()


class RedisMarkedDown(RedisConnectionError):
    """Not tried: this server failed moments ago (a ``ConnectionError``, so every caller's
    existing handling of a Redis outage applies unchanged)."""


def _memo_seconds() -> float:
    return float(getattr(settings, "REDIS_DOWN_MEMO_SECONDS", DEFAULT_MEMO_SECONDS))


def mark_down(host: str, port: int, reason: BaseException | str) -> None:
    """Remember that ``host:port`` failed; calls to it fail fast for ``REDIS_DOWN_MEMO_SECONDS``."""
    seconds = _memo_seconds()
    if seconds <= 0:
        return
    with _lock:
        was_up = (host, port) not in _down_until or _down_until[(host, port)] <= time.monotonic()
        _down_until[(host, port)] = time.monotonic() + seconds
    if was_up:  # one line per outage and process, not one per request
        logger.warning("Redis at %s:%s is down (%s); failing fast for %.1f s", host, port, reason, seconds)


def is_marked_down(host: str, port: int) -> bool:
    """True while ``host:port`` failed less than ``REDIS_DOWN_MEMO_SECONDS`` ago."""
    until = _down_until.get((host, port))
    return until is not None and time.monotonic() < until


def forget(host: str | None = None, port: int | None = None) -> None:
    """Drop the memo of one server (or, without arguments, of all): it is tried on the next call."""
    with _lock:
        if host is None:
            _down_until.clear()
        else:
            _down_until.pop((host, int(port or 0)), None)


class GuardedConnection(Connection):
    """A redis-py TCP connection that consults and feeds the per-process "down" memo.

    Only timeouts and failed connects mark a server down. An established connection that
    the server closed (a Redis restart) raises as usual without marking: the next connect
    then tells whether the server is really gone.
    """

    def _refuse_if_marked_down(self) -> None:
        if is_marked_down(self.host, self.port):
            raise RedisMarkedDown(f"Redis at {self.host}:{self.port} failed moments ago; not trying again yet")

    def connect(self) -> None:
        self._refuse_if_marked_down()
        try:
            super().connect()  # type: ignore[no-untyped-call]  # not annotated in redis-py
        except (RedisConnectionError, RedisTimeoutError) as error:
            if not isinstance(error, RedisMarkedDown):
                mark_down(self.host, self.port, error)
            raise

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        # A pooled connection opened before the outage would otherwise wait out its timeout.
        self._refuse_if_marked_down()
        try:
            super().send_packed_command(command, check_health=check_health)  # type: ignore[no-untyped-call]
        except RedisTimeoutError as error:
            mark_down(self.host, self.port, error)
            raise

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except RedisTimeoutError as error:
            mark_down(self.host, self.port, error)
            raise


class GuardedSSLConnection(GuardedConnection, SSLConnection):
    """``GuardedConnection`` over TLS: the class of a ``rediss://`` URL (ElastiCache with
    in-transit encryption accepts nothing else)."""


def guarded_connection_class(url: str) -> type[GuardedConnection]:
    """The guarded connection class for a Redis URL: TLS for ``rediss://``, plain TCP otherwise.

    Passing a ``connection_class`` to redis-py replaces the ``SSLConnection`` that a
    ``rediss://`` URL selects, so the class must follow the URL's scheme, alias by alias,
    or TLS is silently dropped.
    """
    return GuardedSSLConnection if urlsplit(url).scheme == "rediss" else GuardedConnection


class RedisCache(DjangoRedisCache):  # type: ignore[misc]  # django-redis ships no types
    """django-redis's cache backend, except that ``get_many`` always answers a dict of its own.

    While Redis is down django-redis answers every ignored ``get_many`` with the *same*
    ``{}`` object (its ``omit_exception(return_value={})``). A caller that fills in its
    answer (``found |= missing``, as card caches do) would put its entries into every later
    ``get_many`` of the process during the outage, for other keys and other aliases: the
    page cache then read a book card as a change stamp and answered 500 (found by
    tests/faults/test_redis_stopped.py).
    """

    def get_many(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(super().get_many(*args, **kwargs))
