"""The two Redis roles (scripts/redis.sh, docs/operations.md): what survives a restart, what is evicted."""

from __future__ import annotations

import pytest
import redis
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.utils.module_loading import import_string

from cart.selectors import cart_contents
from cart.services import cart_add_item
from cart.store import customer_cart, get_store
from tests.factories import BookFactory
from tests.ops.redis_servers import redis_servers

pytestmark = pytest.mark.django_db

VALUE = b"x" * 50_000  # 50 kB: 200 of them are 10 MB, well past a 3 MB maxmemory


def config(client: redis.Redis, name: str) -> str:
    """One live setting of a running server (CONFIG GET), not what a file says."""
    return client.config_get(name)[name]


def fits(client: redis.Redis, key: str) -> bool:
    """Write one big value; False when the server refuses it for lack of memory."""
    try:
        client.set(key, VALUE)
    except redis.exceptions.OutOfMemoryError:
        return False
    return True


def test_a_cart_survives_a_restart_of_redis(own_redis, customer):
    book = BookFactory(stock=5)
    cart = customer_cart(customer.pk)
    cart_add_item(cart=cart, book_id=book.pk, quantity=3)

    own_redis.script("stop")
    own_redis.script("start")

    items = cart_contents(cart=cart).items
    assert [(item.book.pk, item.quantity) for item in items] == [(book.pk, 3)]


def test_carts_live_on_the_durable_redis_and_not_in_the_cache(own_redis, customer):
    book = BookFactory(stock=5)
    cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=1)

    durable_keys = [key.decode() for key in own_redis.client("durable").keys("*cart:*")]
    assert durable_keys == [caches["durable"].make_key(customer_cart(customer.pk).key)]
    assert own_redis.client("cache").keys("*cart:*") == []
    assert get_store().ttl(customer_cart(customer.pk)) is not None


def test_a_session_survives_a_restart_of_redis(own_redis, settings):
    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    session = store_class()
    session["greeting"] = "kept"
    session.save()

    own_redis.script("stop")
    own_redis.script("start")
    # The database row goes too: what is read back can only come from Redis.
    Session.objects.filter(session_key=session.session_key).delete()

    assert store_class(session.session_key)["greeting"] == "kept"


def test_the_cache_role_evicts_the_least_recently_used_keys_when_full(tmp_path):
    with redis_servers(tmp_path, cache_maxmemory="3mb") as servers:
        cache = servers.client("cache")
        assert config(cache, "maxmemory") == str(3 * 1024 * 1024)
        assert config(cache, "maxmemory-policy") == "allkeys-lru"
        assert config(cache, "appendonly") == "no"
        assert config(cache, "save") == ""

        for number in range(200):
            cache.set(f"fragment:{number}", VALUE)  # every write succeeds ...

        assert cache.info("stats")["evicted_keys"] > 0  # ... because older keys made room
        assert cache.dbsize() < 200
        assert cache.get("fragment:199") == VALUE


def test_the_durable_role_refuses_writes_when_full_and_evicts_nothing(tmp_path):
    with redis_servers(tmp_path, durable_maxmemory="3mb") as servers:
        durable = servers.client("durable")
        assert config(durable, "maxmemory") == str(3 * 1024 * 1024)
        assert config(durable, "maxmemory-policy") == "noeviction"
        assert config(durable, "appendonly") == "yes"
        assert config(durable, "appendfsync") == "everysec"

        written = 0
        while written < 200 and fits(durable, f"cart:{written}"):
            written += 1

        assert 0 < written < 200  # it filled up, and then refused
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            durable.set("cart:one-more", VALUE)
        assert durable.info("stats")["evicted_keys"] == 0
        assert durable.dbsize() == written  # every cart written is still there
