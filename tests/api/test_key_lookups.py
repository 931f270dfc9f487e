"""Key lookups: throttled by client address before the database, bad keys remembered briefly,
and a key revoked while a request is looking it up never comes back from the cache."""

from __future__ import annotations

import hashlib
import secrets
import threading

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django_redis import get_redis_connection

from cloudshelf.api.authentication import api_key_for_raw_key
from partners import selectors
from partners.key_cache import key_cache_key
from partners.models import ApiKey
from partners.selectors import api_key_lookup
from partners.services import api_key_revoke
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db


def made_up_key() -> str:
    """A key of the right shape that was never issued."""
    return f"cs_live_{secrets.token_hex(4)}.{secrets.token_urlsafe(32)}"


@pytest.fixture
def small_address_bucket(settings):
    """Three calls without a live key per address, no refill during the test."""
    settings.API_ANONYMOUS_RATE_PER_SECOND, settings.API_ANONYMOUS_BURST = 0.001, 3


def test_made_up_keys_past_the_address_limit_are_refused_without_a_query(
    small_address_bucket, django_assert_num_queries
):
    for _ in range(3):
        with django_assert_num_queries(1):  # the key lookup
            assert key_client(made_up_key()).get("/api/v1/categories/").status_code == 401

    with django_assert_num_queries(0):
        refused = [key_client(made_up_key()).get("/api/v1/categories/") for _ in range(20)]

    assert {response.status_code for response in refused} == {429}
    assert refused[0].json()["code"] == "throttled"
    assert refused[0]["Retry-After"] == "1000"


def test_the_address_limit_is_per_client_address(small_address_bucket):
    flooder = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(4):
        key_client(made_up_key()).get("/api/v1/categories/", **flooder)

    assert key_client(made_up_key()).get("/api/v1/categories/", **flooder).status_code == 429
    assert key_client(made_up_key()).get("/api/v1/categories/", REMOTE_ADDR="198.51.100.4").status_code == 401


def test_a_partner_with_a_remembered_key_is_not_refused_for_its_neighbours_flood(small_address_bucket, api):
    assert api.get("/api/v1/categories/").status_code == 200  # the key is now cached

    for _ in range(5):
        key_client(made_up_key()).get("/api/v1/categories/")

    assert key_client(made_up_key()).get("/api/v1/categories/").status_code == 429
    assert api.get("/api/v1/categories/").status_code == 200


def test_a_bad_key_sent_again_is_answered_from_the_cache(django_assert_num_queries):
    client = key_client(made_up_key())

    with django_assert_num_queries(1):
        first = client.get("/api/v1/categories/")
    with django_assert_num_queries(0):
        again = [client.get("/api/v1/categories/") for _ in range(3)]

    assert [response.status_code for response in [first, *again]] == [401] * 4
    assert again[0].json()["code"] == "authentication_failed"


def test_a_bad_key_is_remembered_briefly_and_only_by_its_hash(settings):
    raw_key = made_up_key()

    key_client(raw_key).get("/api/v1/categories/")

    key_hash = hashlib.sha256(raw_key.encode()).hexdigest()
    assert 0 < cache.ttl(key_cache_key(key_hash)) <= settings.API_BAD_KEY_CACHE_SECONDS
    secret = raw_key.split(".")[1]
    redis = get_redis_connection("default")
    assert [name for name in redis.scan_iter(match="*", count=1000) if secret.encode() in name] == []


def test_without_a_bad_key_memory_every_bad_key_is_a_query(settings, django_assert_num_queries):
    settings.API_BAD_KEY_CACHE_SECONDS = 0
    client = key_client(made_up_key())

    with django_assert_num_queries(2):
        client.get("/api/v1/categories/")
        client.get("/api/v1/categories/")


# --- A revocation racing a lookup ------------------------------------------------------------


def revoke_during_lookup(monkeypatch, api_key: ApiKey, *, within=None) -> None:
    """Revoke ``api_key`` after the lookup's query has read it live and before the lookup caches it."""
    read_row = selectors._key_row

    def read_then_revoke(key_hash: str) -> ApiKey | None:
        row = read_row(key_hash)
        (within or (lambda: api_key_revoke(api_key=api_key)))()
        return row

    monkeypatch.setattr(selectors, "_key_row", read_then_revoke)


def test_a_key_revoked_between_the_lookup_and_the_cache_fill_is_refused_next_time(monkeypatch, partner_key):
    revoke_during_lookup(monkeypatch, partner_key.api_key)

    in_flight = api_key_lookup(partner_key.raw_key)  # read before the revocation: it may finish
    monkeypatch.undo()

    assert in_flight is not None
    assert api_key_for_raw_key(partner_key.raw_key) is None
    assert key_client(partner_key.raw_key).get("/api/v1/categories/").status_code == 401


def test_a_request_already_past_the_lookup_cannot_bring_a_revoked_key_back(monkeypatch, partner_key):
    """The same race through the middleware: the revoking request wins for every later request."""
    client = key_client(partner_key.raw_key)
    revoke_during_lookup(monkeypatch, partner_key.api_key)

    in_flight = client.get("/api/v1/categories/")
    monkeypatch.undo()

    assert in_flight.status_code == 200
    assert client.get("/api/v1/categories/").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_lookup_that_reads_before_the_revocation_commits_cannot_cache_the_key(monkeypatch, partner_key):
    """Revocation in another connection's transaction: the new generation drawn at revoke time
    is read by the lookup, whose query still sees the key live (not yet committed); the draw
    made on commit is what makes its cached answer stale."""
    revoked_uncommitted, may_commit = threading.Event(), threading.Event()

    def revoke_in_a_transaction() -> None:
        try:
            with transaction.atomic():
                api_key_revoke(api_key=ApiKey.objects.get(pk=partner_key.api_key.pk))
                revoked_uncommitted.set()
                may_commit.wait(10)
        finally:
            connection.close()  # this thread's own connection

    revoker = threading.Thread(target=revoke_in_a_transaction)
    revoker.start()
    assert revoked_uncommitted.wait(10)

    def commit_now() -> None:
        may_commit.set()
        revoker.join(10)

    revoke_during_lookup(monkeypatch, partner_key.api_key, within=commit_now)
    in_flight = api_key_lookup(partner_key.raw_key)
    monkeypatch.undo()

    assert not revoker.is_alive()
    assert in_flight is not None  # its query ran before the commit
    assert ApiKey.objects.get(pk=partner_key.api_key.pk).revoked_at is not None
    assert api_key_for_raw_key(partner_key.raw_key) is None
