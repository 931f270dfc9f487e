"""The shop on a real Redis Cluster (three masters, scripts/redis.sh cluster-start): the caches,
sessions, page cache, rate limiter and cart, a cluster that cannot be reached, and a slot
moved live under a cart (MOVED and ASK redirections)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from django.core.cache import cache
from django.test import Client
from django_redis import get_redis_connection
from redis.cluster import RedisCluster

from cart import services as cart_services
from cart.store import CartStoreUnavailable, customer_cart, get_store
from cloudshelf import health
from cloudshelf.edge.page_cache import paths_showing
from cloudshelf.ratelimit import RateLimit, UseMarker, rate_limit_hit
from search.breaker import OPEN, CircuitBreaker
from tests.cart.helpers import quantities
from tests.factories import BookFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_alias_is_a_client_of_one_three_master_cluster(cluster):
    assert len(cluster.get_primaries()) == 3
    for alias in ("default", "durable", "fragments", "pages"):
        assert isinstance(get_redis_connection(alias), RedisCluster)


def test_readiness_pings_the_cluster_of_each_alias():
    health.probe_cache()
    health.probe_durable()


def test_the_cache_reads_writes_and_deletes_keys_on_every_master(cluster):
    values = {f"many:{index}": index for index in range(300)}
    cache.set_many(values, timeout=60)
    owners = {cluster.get_node_from_key(cache.make_key(key)).name for key in values}

    found = cache.get_many([*values, "many:absent"])
    cache.delete_many(list(values)[:100])

    assert len(owners) == 3  # the keys really are spread over the three masters
    assert found == values
    assert cache.get_many(list(values)[:100]) == {}
    assert cache.incr("many:150") == 151
    assert cache.add("many:150", 0) is False
    assert len(cache.keys("many:*")) == 200  # KEYS asks every master, not one
    assert cache.delete_pattern("many:*") == 200


def test_a_session_lives_on_the_cluster_across_requests(cluster):
    UserFactory(username="carol", password="correct horse battery staple")
    client = Client()

    assert client.login(username="carol", password="correct horse battery staple")
    session_key = client.cookies["sessionid"].value

    session_keys = [key.decode() for key in cluster.scan_iter(match=f"*{session_key}*")]
    assert len(session_keys) == 1  # cached_db's copy, in the durable alias's cluster
    assert client.get("/orders/").status_code == 200  # signed in (else a redirect): read back from the cluster


def test_a_rendered_page_is_kept_and_listed_by_its_tags():
    book = BookFactory()
    path = book.get_absolute_url()

    first, second = Client().get(path), Client().get(path)

    assert first.status_code == second.status_code == 200
    assert path in paths_showing([f"book:{book.pk}", "book:0"])  # two tags: two slots, one pipeline


def test_a_gcra_bucket_and_its_first_use_marker_are_set_by_one_script():
    limit, marker = RateLimit(rate=1, burst=3), UseMarker(f"api:key-used:{{partner:{os.getpid()}}}:1", 60)

    decisions = [rate_limit_hit(bucket=f"partner:{os.getpid()}", limit=limit, marker=marker) for _ in range(4)]

    assert None not in decisions  # None would be the limiter failing open on a cross-slot error
    assert [decision.is_allowed for decision in decisions] == [True, True, True, False]
    assert [decision.is_first_use for decision in decisions] == [True, False, False, False]


def test_the_breakers_state_is_one_mget_of_one_slot_for_any_client(settings):
    settings.SEARCH_BREAKER_COOLDOWN = 30
    breaker = CircuitBreaker("cluster-test", register=False)
    breaker.trip()
    other_process = RedisCluster.from_url(settings.REDIS_URL)  # a client with a slot map of its own

    try:
        # A plain MGET: a cluster refuses one whose keys are in different slots.
        assert other_process.mget([breaker._key("open"), breaker._key("tripped")]) == [b"1", b"1"]
        assert breaker.state == OPEN
    finally:
        breaker.reset()
        other_process.close()


@contextmanager
def unreachable_cluster(settings) -> Iterator[None]:
    """Every alias seeded from a port where nothing listens."""
    dead = "redis://127.0.0.1:9/0"
    settings.CACHES = {alias: {**config, "LOCATION": dead} for alias, config in settings.CACHES.items()}
    yield  # (a seed that cannot be reached leaves no client behind: nothing to clean up)


def test_an_unreachable_cluster_is_an_outage_not_an_error(settings):
    with unreachable_cluster(settings):
        assert cache.get("anything") is None  # the cache answers a miss
        assert rate_limit_hit(bucket="down", limit=RateLimit(rate=1, burst=1)) is None  # the limiter lets through
        with pytest.raises(CartStoreUnavailable):
            get_store().count(customer_cart(1))
        with pytest.raises(redis.exceptions.ConnectionError):  # readiness reports it
            health.probe_durable()


# --- A slot moved live ----------------------------------------------------------------------


def node_clients(cluster: RedisCluster) -> dict[str, redis.Redis]:
    """A plain client of each master, by node id (for the CLUSTER commands of a reshard)."""
    clients = {}
    for node in cluster.get_primaries():
        client = redis.Redis(host=node.host, port=node.port, socket_timeout=5)
        clients[client.execute_command("CLUSTER", "MYID").decode()] = client
    return clients


def owner_of(clients: dict[str, redis.Redis], slot: int) -> str:
    for low, high, (_host, _port, node_id, *_), *_ in next(iter(clients.values())).execute_command("CLUSTER", "SLOTS"):
        if low <= slot <= high:
            return node_id.decode() if isinstance(node_id, bytes) else node_id
    raise AssertionError(f"slot {slot} is served by no node")


def migrate_keys(source: redis.Redis, target: redis.Redis, slot: int) -> None:
    target_host, target_port = (
        target.connection_pool.connection_kwargs["host"],
        target.connection_pool.connection_kwargs["port"],
    )
    while keys := source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        source.execute_command("MIGRATE", target_host, target_port, "", 0, 5000, "KEYS", *keys)


def move_slot(clients: dict[str, redis.Redis], slot: int, source_id: str, target_id: str) -> None:
    """What ``redis-cli --cluster reshard`` does for one slot, in one go."""
    source, target = clients[source_id], clients[target_id]
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    migrate_keys(source, target, slot)
    for client in clients.values():
        client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


@pytest.mark.slow
def test_a_cart_keeps_working_while_its_slot_moves_to_another_master(cluster):
    """ASK while the slot is half moved, MOVED once it has: redis-py follows both, nothing is lost."""
    books = BookFactory.create_batch(3, stock=50)
    cart = customer_cart(UserFactory().pk)
    cart_services.cart_add_item(cart=cart, book_id=books[0].pk, quantity=1)
    key = get_store().make_key(cart.key)
    slot = cluster.keyslot(key)
    clients = node_clients(cluster)
    source_id = owner_of(clients, slot)
    target_id = next(node_id for node_id in clients if node_id != source_id)
    source, target = clients[source_id], clients[target_id]
    try:
        # Half moved: the cart's key is on the target, the slot still the source's -> ASK.
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        migrate_keys(source, target, slot)
        with pytest.raises(redis.exceptions.AskError):  # the key is not here any more: "ask the target"
            source.hgetall(key)
        cart_services.cart_add_item(cart=cart, book_id=books[1].pk, quantity=2)
        assert quantities(cart) == {books[0].pk: 1, books[1].pk: 2}

        # Moved: every node says the target owns it; the client's slot map is stale -> MOVED.
        for client in clients.values():
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        cart_services.cart_add_item(cart=cart, book_id=books[2].pk, quantity=3)

        assert quantities(cart) == {books[0].pk: 1, books[1].pk: 2, books[2].pk: 3}
        assert (
            cluster.get_node_from_key(key).name
            == f"{target.connection_pool.connection_kwargs['host']}:{target.connection_pool.connection_kwargs['port']}"
        )
    finally:
        # Whatever step failed, finish the move, then move the slot home: the cluster is left as found.
        if owner_of(clients, slot) != target_id:
            move_slot(clients, slot, source_id, target_id)
        move_slot(clients, slot, target_id, source_id)
        for client in clients.values():
            client.close()
    assert quantities(cart) == {books[0].pk: 1, books[1].pk: 2, books[2].pk: 3}  # moved back: MOVED again
