"""django-redis on a Redis Cluster (``REDIS_CLUSTER=1``; docs/operations.md, "Redis Cluster").

django-redis 7 talks to one Redis (or a Sentinel-watched primary); it has no cluster
client. These two classes give it one, chosen per cache alias in settings:

* ``ClusterConnectionFactory`` makes a ``redis.cluster.RedisCluster`` from the alias's
  ``LOCATION``, a *seed* URL (any node, or ElastiCache's configuration endpoint): the
  client asks it for the slot map and then talks to each master directly, following
  ``MOVED``/``ASK`` redirections when slots move. One client per URL and process (like
  django-redis's connection pools), each node with its own pool of ``GuardedConnection``\\s
  (``GuardedSSLConnection``\\s for a ``rediss://`` seed).
* ``ClusterClient`` is django-redis's ``DefaultClient`` with the one operation that
  would cross slots replaced: ``get_many`` (``MGET`` of unrelated keys) reads slot by slot,
  pipelined per node. ``set_many``/``delete_many``/``delete_pattern`` already split by
  slot through redis-py's cluster pipeline and multi-key commands.

Everything else keeps single-key commands, or Lua scripts and ``MULTI`` whose keys share
a hash tag (``cart:{user:7}``, ``ratelimit:{partner:3}``): one slot, one node, atomic as on a
single Redis. ``tests/test_redis_cluster_keys.py`` checks every such group.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection
from typing import Any, ClassVar
from urllib.parse import urlparse

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from django_redis.pool import ConnectionFactory
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError, SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from cloudshelf.env import ImproperlyConfiguredEnv
from cloudshelf.redis_guard import guarded_connection_class

# How often one command is retried on a cluster error (a node down, the slot map changing)
# before it fails; each retry refreshes the slot map. redis-py's 10 would multiply a hung
# node's socket timeout by ten.
CLUSTER_ERROR_RETRY_ATTEMPTS = 3


def check_cluster_url(url: str, *, setting: str = "REDIS_URL") -> None:
    """Refuse a URL a Redis Cluster cannot serve: not redis(s)://, no host, or a database other than 0.

    A cluster has only database 0; ``redis://host:6379/3`` would silently be a different
    keyspace on a single node, so it is an error here rather than a surprise later.
    """
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfiguredEnv(f"{setting}={url!r}: a Redis Cluster seed must be a redis:// or rediss:// URL")
    if not parsed.hostname:
        raise ImproperlyConfiguredEnv(f"{setting}={url!r}: the Redis Cluster seed URL names no host")
    database = parsed.path.strip("/")
    if database not in {"", "0"}:
        raise ImproperlyConfiguredEnv(
            f"{setting}={url!r}: a Redis Cluster has only database 0 (REDIS_CLUSTER=1); "
            "separate deployments or test runs by CACHE_KEY_PREFIX instead"
        )


class ClusterUnavailable(ConnectionInterrupted, RedisConnectionError):  # type: ignore[misc]
    """No node of the cluster (or of a key's slot) can be reached.

    redis-py reports that as ``RedisClusterException``, which is not a ``RedisError``, so it
    would pass every outage handler: the cache's (``DJANGO_REDIS_IGNORE_EXCEPTIONS`` acts on
    ``ConnectionInterrupted``) and the cart's, breaker's and limiter's (``RedisError``). This is
    both, so a down cluster behaves like a down single Redis.
    """

    def __init__(self, message: str) -> None:
        RedisConnectionError.__init__(self, message)
        self.connection = None

    def __str__(self) -> str:
        return str(self.args[0])


def _as_outage(error: RedisClusterException) -> RedisClusterException | ClusterUnavailable:
    """``ClusterUnavailable`` when ``error`` means "unreachable"; else ``error`` (a cross-slot
    command, say, is a bug that must stay loud, not pass for an outage)."""
    if isinstance(error, SlotNotCoveredError) or isinstance(error.__cause__, RedisConnectionError | RedisTimeoutError):
        return ClusterUnavailable(str(error))
    return error


class _RedisCluster(RedisCluster):
    """``RedisCluster`` whose "no node reachable" errors are ``ClusterUnavailable``, and whose
    ``KEYS`` asks every master."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]
        except RedisClusterException as error:
            raise _as_outage(error) from error

    def keys(self, pattern: Any = "*", **kwargs: Any) -> Any:
        # redis-py 8 sends KEYS to one node by default, which answers for a third of the keys.
        kwargs.setdefault("target_nodes", self.PRIMARIES)
        return super().keys(pattern, **kwargs)


class ClusterConnectionFactory(ConnectionFactory):  # type: ignore[misc]  # django-redis is untyped for mypy here
    """One ``RedisCluster`` per seed URL and process, shared by every alias on that cluster."""

    _clusters: ClassVar[dict[str, RedisCluster]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def connect(self, url: str) -> Any:
        with self._lock:
            if url not in self._clusters:
                self._clusters[url] = self._new_cluster(url)
            return self._clusters[url]

    def _new_cluster(self, url: str) -> RedisCluster:
        check_cluster_url(url)
        kwargs: dict[str, Any] = {
            # A node that is down takes only its own slots away; the rest keep working.
            "require_full_coverage": False,
            # Short pauses: a slot map refresh takes milliseconds, and a request is waiting.
            "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), CLUSTER_ERROR_RETRY_ATTEMPTS),
        }
        for option, argument in (
            ("SOCKET_TIMEOUT", "socket_timeout"),
            ("SOCKET_CONNECT_TIMEOUT", "socket_connect_timeout"),
        ):
            if self.options.get(option):
                kwargs[argument] = self.options[option]
        pool_kwargs = self.options.get("CONNECTION_POOL_KWARGS", {})
        # Per node: each master has a pool of its own of this size.
        if "max_connections" in pool_kwargs:
            kwargs["max_connections"] = pool_kwargs["max_connections"]
        # Unlike ConnectionPool.from_url, RedisCluster lets a rediss:// URL's own class (redis-py's
        # SSLConnection, which has no down memo) win over connection_class. So the class is chosen
        # here from the URL's scheme (TLS for rediss://), and the seed is handed over as redis://:
        # the scheme selects nothing else, and query options (ssl_ca_certs...) pass unchanged.
        kwargs["connection_class"] = guarded_connection_class(url)
        try:
            return _RedisCluster.from_url(re.sub(r"^rediss://", "redis://", url), **kwargs)
        except RedisClusterException as error:  # the seed could not be reached: an outage, tried again next call
            raise _as_outage(error) from error

    def disconnect(self, connection: Any) -> None:
        connection.disconnect_connection_pools()


class ClusterClient(DefaultClient):  # type: ignore[misc]  # django-redis is untyped for mypy here
    """django-redis's client with ``get_many`` read per slot (see the module docstring)."""

    def get_many(self, keys: Collection[str], version: int | None = None, client: Any = None) -> dict[str, Any]:
        if client is None:
            client = self.get_client(write=False)
        if not keys:
            return {}
        map_keys = {str(self.make_key(key, version=version)): key for key in keys}
        try:
            # Grouped by slot, one pipeline per node: the same round trips as MGET on one node
            # when the keys share a node. Not atomic across slots, which no caller relies on
            # (search.result_cache explains why its generation check does not need it).
            values = client.mget_nonatomic(list(map_keys))
        except (RedisError, RedisClusterException) as error:
            raise ConnectionInterrupted(connection=client) from error
        return {
            map_keys[full_key]: self.decode(value)
            for full_key, value in zip(map_keys, values, strict=True)
            if value is not None
        }
