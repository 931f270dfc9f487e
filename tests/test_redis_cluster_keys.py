"""Every Lua script, MULTI and MGET that touches several keys touches one Redis Cluster slot.

Pure key arithmetic (redis-py's ``key_slot``, the cluster's own CRC16), so it runs in the
ordinary suite: a key renamed without its hash tag fails here before it fails on a cluster.
The cluster itself is exercised by ``make pytest-cluster`` (tests/cluster/).
"""

from __future__ import annotations

import pytest
from django.core.cache import caches
from redis.crc import key_slot

from cart.store import anonymous_cart, claim_key, customer_cart, merge_marker_key
from cloudshelf.breaker import all_breakers
from cloudshelf.edge.cdn import RedisPendingStore
from cloudshelf.env import ImproperlyConfiguredEnv
from cloudshelf.ratelimit import gcra_key
from cloudshelf.redis_cluster import check_cluster_url
from cloudshelf.redis_keys import hash_tag
from partners.key_cache import key_cache_key, key_generation_key
from partners.services import api_key_use_marker
from search.breaker import CircuitBreaker
from tests.api.factories import PartnerFactory, issue_key

HOSTILE_NAMES = ["", "{", "}", "{}", "a}b", "{a}", "x{y}z", "#", "#00ff", "é", "\x00", "x" * 10_000]


def slot(key: str) -> int:
    return key_slot(key.encode())


def slots(keys: list[str]) -> set[int]:
    return {slot(key) for key in keys}


def durable_key(name: str) -> str:
    return str(caches["durable"].make_key(name))


@pytest.mark.parametrize("name", ["user:7", "session:abc", "partner:3", *HOSTILE_NAMES])
def test_a_hash_tag_puts_every_key_built_on_it_in_one_slot(name):
    tag = hash_tag(name)

    assert (tag[0], tag[-1], tag.count("{"), tag.count("}")) == ("{", "}", 1, 1)
    assert len(slots([f"a:{tag}", f"b:{tag}:c", f"{tag}", f"prefix:1:x:{tag}:y{{z}}"])) == 1


def test_a_hash_tag_keeps_a_plain_name_readable_and_tells_names_apart():
    assert hash_tag("partner:3") == "{partner:3}"
    digests = {hash_tag(name) for name in HOSTILE_NAMES}
    assert len(digests) == len(HOSTILE_NAMES)  # no two names share a tag, hostile or not
    assert hash_tag("#00ff") != "{#00ff}"  # a name cannot pose as another's digest


@pytest.mark.parametrize("session_key", ["k" * 32, "", "a}b{c", "{x}"])
def test_a_cart_merge_claims_in_the_anonymous_carts_slot(session_key):
    source = anonymous_cart(session_key)

    assert len(slots([durable_key(source.key), durable_key(claim_key(source))])) == 1


def test_a_cart_merge_marks_its_apply_in_the_customer_carts_slot():
    target = customer_cart(42)

    assert len(slots([durable_key(target.key), durable_key(merge_marker_key(target, "ab" * 16))])) == 1


@pytest.mark.django_db
def test_an_api_keys_first_use_marker_shares_its_partners_bucket_slot():
    """The GCRA script sets the marker: bucket ``partner:<id>`` (cloudshelf.api.middleware)."""
    partner = PartnerFactory()
    api_key = issue_key(partner).api_key

    bucket = gcra_key(f"partner:{partner.pk}")
    marker = durable_key(api_key_use_marker(api_key=api_key))
    assert len(slots([bucket, marker])) == 1


@pytest.mark.parametrize("bucket", ["search:203.0.113.9", "login:alice", "2001:db8::/64", *HOSTILE_NAMES])
def test_each_gcra_bucket_is_a_tag_of_its_own(bucket):
    assert hash_tag(bucket) in gcra_key(bucket)


def test_every_breakers_state_is_read_from_one_slot():
    breakers = [*all_breakers(), CircuitBreaker("test", register=False)]

    assert {breaker.name for breaker in breakers} >= {"opensearch", "dynamodb", "cloudfront", "payment", "test"}
    parts = ("open", "tripped", "trips", "failures", "probe")
    assert len(slots([breaker._key(part) for breaker in breakers for part in parts])) == 1


def test_an_api_keys_lookup_and_generation_are_read_from_one_slot():
    key_hash = "ab" * 32

    assert (
        len(
            slots(
                [
                    caches["default"].make_key(key_cache_key(key_hash)),
                    caches["default"].make_key(key_generation_key(key_hash)),
                ]
            )
        )
        == 1
    )


def test_the_cdn_invalidation_transactions_touch_one_slot():
    store = RedisPendingStore()

    assert len(slots([store._key(part) for part in ("cdn", "purge", "in-flight", "next-call", "scheduled")])) == 1


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:57001",
        "redis://127.0.0.1:57001/",
        "redis://127.0.0.1:57001/0",
        "rediss://cfg.example.cache.amazonaws.com:6379/0",
    ],
)
def test_a_cluster_seed_url_is_accepted(url):
    check_cluster_url(url)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://127.0.0.1:57001/3", "only database 0"),
        ("redis://127.0.0.1:57001/-1", "only database 0"),
        ("redis://127.0.0.1:57001/" + "9" * 5000, "only database 0"),
        ("unix:///tmp/redis.sock", "redis:// or rediss://"),
        ("", "redis:// or rediss://"),
        ("http://127.0.0.1:57001/0", "redis:// or rediss://"),
        ("redis:///0", "names no host"),
    ],
)
def test_a_url_a_cluster_cannot_serve_is_refused_by_name(url, complaint):
    with pytest.raises(ImproperlyConfiguredEnv, match=complaint) as refused:
        check_cluster_url(url, setting="REDIS_DURABLE_URL")

    assert "REDIS_DURABLE_URL" in str(refused.value)
