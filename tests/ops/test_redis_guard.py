"""A hung Redis costs one socket timeout per process, not one per call (cloudshelf.redis_guard)."""

from __future__ import annotations

import os
import signal

import pytest
from django.core.cache import caches
from django_redis import get_redis_connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cart.services import CartError, cart_add_item
from cart.store import customer_cart
from cloudshelf import redis_guard
from tests.factories import BookFactory
from tests.ops.hung_peer import HungPeer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_memo_before_or_after():
    redis_guard.forget()
    yield
    redis_guard.forget()


@pytest.fixture
def hung_redis(settings):
    """Every Redis alias (cache and durable) pointed at a peer that accepts and never answers."""
    with HungPeer().running() as peer:
        previous = settings.CACHES
        settings.CACHES = {alias: {**config, "LOCATION": peer.url()} for alias, config in previous.items()}
        yield peer
        settings.CACHES = previous


def test_after_one_timeout_the_next_calls_do_not_wait_for_the_hung_server(hung_redis):
    cache = caches["default"]
    assert cache.get("anything") is None  # waited out one timeout, answered as a miss
    assert hung_redis.accepted == 1

    assert cache.get("anything") is None
    cache.set("something", 1)
    assert caches["durable"].get("cart") is None

    assert hung_redis.accepted == 1  # nothing was sent to it again


def test_pages_answer_200_with_redis_hung_and_the_second_one_never_touches_it(client, hung_redis):
    BookFactory.create_batch(3)

    assert client.get("/").status_code == 200
    assert hung_redis.accepted == 1
    assert client.get("/books/").status_code == 200
    assert client.get("/").status_code == 200

    assert hung_redis.accepted == 1


def test_the_cart_says_it_is_unavailable_at_once_while_redis_is_marked_down(customer, hung_redis):
    book = BookFactory()
    for _ in range(3):
        with pytest.raises(CartError) as refused:
            cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk)
        assert refused.value.code == "unavailable"

    assert hung_redis.accepted == 1


def test_the_server_is_tried_again_once_the_memo_lapses(hung_redis, settings):
    settings.REDIS_DOWN_MEMO_SECONDS = 0  # no memo: every call tries (and waits) again
    caches["default"].get("anything")
    caches["default"].get("anything")

    assert hung_redis.accepted == 2


def test_a_frozen_redis_with_open_connections_fails_fast_after_the_first_timeout(own_redis):
    redis = get_redis_connection("default")
    redis.set("warm", 1)  # a pooled connection, opened while Redis was fine
    os.kill(own_redis.pid("cache"), signal.SIGSTOP)
    try:
        with pytest.raises(RedisTimeoutError):
            redis.get("warm")
        with pytest.raises(redis_guard.RedisMarkedDown):
            redis.get("warm")
        # The durable Redis is another server: still in use.
        assert get_redis_connection("durable").ping() is True
    finally:
        os.kill(own_redis.pid("cache"), signal.SIGCONT)

    redis_guard.forget()
    assert redis.get("warm") == b"1"


def test_a_refused_connection_is_remembered_too(settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"},
    }
    redis = get_redis_connection("default")
    with pytest.raises(RedisConnectionError) as first:
        redis.ping()
    with pytest.raises(redis_guard.RedisMarkedDown):
        redis.ping()

    assert not isinstance(first.value, redis_guard.RedisMarkedDown)


def closed_port() -> int:
    from tests.ops.redis_servers import free_port

    return free_port()
