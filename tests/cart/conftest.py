"""Fixtures of the cart suite: the two cart stores, raw Redis access and a card processor on loopback."""

from __future__ import annotations

import os

import pytest
from django.core.cache import caches
from django_redis import get_redis_connection

from tests.cart.payment_server import API_KEY, FakeProcessor


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
        # As in the embedded default: the same process memory as "default".
        "durable": {"BACKEND": local, "LOCATION": f"cart-{os.getpid()}"},
        # Every other cache as an unset REDIS_URL makes it: in process memory.
        "fragments": {"BACKEND": local, "LOCATION": f"cart-fragments-{os.getpid()}"},
        "pages": {"BACKEND": local, "LOCATION": f"cart-pages-{os.getpid()}"},
    }
    yield "cache"
    for alias in ("default", "durable", "fragments", "pages"):
        caches[alias].clear()
    settings.CACHES, settings.REDIS_URL = redis_caches, redis_url


@pytest.fixture
def redis_raw():
    """The raw Redis connection the cart store uses."""
    return get_redis_connection("durable")


# Short, so a stalled charge costs the test a fraction of a second; the connect timeout is
# generous because a loopback connect never takes long unless the machine is busy.
PROCESSOR_READ_TIMEOUT = 0.3


@pytest.fixture
def processor(settings):
    """An external card processor's API on a loopback port (``tests.cart.payment_server``),
    made the shop's payment provider (``cart.payments.HttpPaymentProvider``)."""
    fake = FakeProcessor().start()
    settings.CART_PAYMENT_PROVIDER = "cart.payments.HttpPaymentProvider"
    settings.CART_PAYMENT_API_URL, settings.CART_PAYMENT_API_KEY = fake.url, API_KEY
    settings.CART_PAYMENT_CONNECT_TIMEOUT, settings.CART_PAYMENT_TIMEOUT = 2.0, PROCESSOR_READ_TIMEOUT
    yield fake
    fake.stop()
