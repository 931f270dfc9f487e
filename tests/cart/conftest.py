"""Fixtures of the cart suite: the two cart stores and raw Redis access."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django_redis import get_redis_connection


@pytest.fixture(params=["redis", "cache"])
def store_kind(request, settings):
    """Run the test once on the Redis store and once on the embedded default's cache store.

    The cache variant switches to an in-process cache exactly as an unset ``REDIS_URL``
    does, and switches back before the shared cache fixture cleans up Redis.
    """
    if request.param == "redis":
        yield "redis"
        return
    redis_caches, redis_url = settings.CACHES, settings.REDIS_URL
    settings.REDIS_URL = ""
    local = "django.core.cache.backends.locmem.LocMemCache"
    settings.CACHES = {
        "default": {"BACKEND": local, "LOCATION": f"cart-{os.getpid()}"},
        # Every other cache as an unset REDIS_URL makes it: in process memory.
        "fragments": {"BACKEND": local, "LOCATION": f"cart-fragments-{os.getpid()}"},
        "pages": {"BACKEND": local, "LOCATION": f"cart-pages-{os.getpid()}"},
    }
    yield "cache"
    for alias in ("default", "fragments", "pages"):
        caches[alias].clear()
    settings.CACHES, settings.REDIS_URL = redis_caches, redis_url


@pytest.fixture
def redis_raw():
    """The raw Redis connection the cart store uses."""
    return get_redis_connection("default")
