"""Fixtures of the operations suite: Redis servers of the test's own, wired into Django's caches."""

from __future__ import annotations

import os

import pytest

from tests.ops.redis_servers import RedisServers, redis_servers


@pytest.fixture
def own_redis(tmp_path, settings):
    """Both Redis roles of this test, and the caches pointed at them as ``make up`` points them.

    "default", "fragments" and "pages" use the cache role; "durable" (carts, sessions) the
    durable one. The previous caches come back before the servers stop, so the shared
    cache fixture cleans up the shared Redis, not a stopped one.
    """
    with redis_servers(tmp_path) as servers:
        previous = settings.CACHES
        settings.CACHES = caches_on(servers, previous)
        yield servers
        settings.CACHES = previous


def caches_on(servers: RedisServers, caches: dict) -> dict:
    """``caches`` with every Redis alias moved to ``servers`` (same options and key prefixes)."""
    prefix = f"test{os.getpid()}"
    moved = {alias: {**config, "LOCATION": servers.url("cache")} for alias, config in caches.items()}
    moved["durable"] = {**caches["durable"], "LOCATION": servers.url("durable"), "KEY_PREFIX": prefix}
    return moved
