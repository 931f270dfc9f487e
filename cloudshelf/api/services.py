"""Writes for partners' API keys: issue, revoke, record use.

Keyword-only functions named ``<entity>_<action>``, called by the admin, by tests and by
the authentication step; nothing else writes ``ApiKey`` rows.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from cloudshelf.api.models import ApiKey, Partner

KEY_PREFIX = "cs_live_"
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_PREFIX_LENGTH = 8
_SECRET_BYTES = 32  # 256 bits: a hash of it needs no salt or stretching
# How long a live key (with its partner) is remembered instead of queried; edits made
# through the services and the admin forget it at once, anything else within this time.
KEY_CACHE_SECONDS = 60
# A key's generation token outlives the entries filled under it; when it expires a fresh
# token is drawn, which only costs one query (no entry can match a token never issued).
KEY_GENERATION_SECONDS = 2 * KEY_CACHE_SECONDS


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly issued key. ``raw_key`` exists only here: show it once, never store it."""

    api_key: ApiKey
    raw_key: str


def hash_raw_key(raw_key: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole key string."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def key_cache_key(key_hash: str) -> str:
    """Where the key's lookup result (live key, or "matches nothing") is cached, with its generation."""
    return f"api:key:v2:{key_hash}"


def key_generation_key(key_hash: str) -> str:
    """Where the key's current generation token is kept (see ``key_generation``)."""
    return f"api:key-generation:{key_hash}"


def key_generation(key_hash: str) -> str | None:
    """The key's current generation token, drawn if there is none; ``None`` when the cache is down.

    A lookup reads this *before* its query and caches its answer under it; a cached answer
    counts only while its token is still current. Forgetting a key draws a new token, so an
    answer read from the database before a revocation and cached after it can never be used:
    it carries the old token. (Deleting the entry alone would lose that race.)
    """
    name = key_generation_key(key_hash)
    token: str | None = cache.get(name)
    if token is None:
        fresh = secrets.token_hex(8)
        token = fresh if cache.add(name, fresh, KEY_GENERATION_SECONDS) else cache.get(name)
    return token


def _new_generations(key_hashes: list[str]) -> None:
    tokens = {key_generation_key(key_hash): secrets.token_hex(8) for key_hash in key_hashes}
    cache.set_many(tokens, KEY_GENERATION_SECONDS)
    cache.delete_many([key_cache_key(key_hash) for key_hash in key_hashes])


def forget_api_keys(*, key_hashes: list[str]) -> None:
    """Invalidate cached lookups of these keys, so a revocation or a partner change applies to the next request.

    Done now (this process and this transaction's own requests see it at once) and again
    when the transaction commits: a request that reads the generation between the two and
    the key row before the commit caches a stale answer under the first new token, which
    the second makes stale. Outside a transaction ``on_commit`` runs at once: two draws.
    """
    if not key_hashes:
        return
    _new_generations(key_hashes)
    transaction.on_commit(lambda: _new_generations(key_hashes))


def _new_prefix() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(_PREFIX_LENGTH))


def api_key_create(*, partner: Partner, name: str, can_write: bool = True) -> IssuedApiKey:
    """Issue a new key for ``partner``: ``cs_live_<8 chars>.<43 chars of secret>``.

    The prefix is random too, and unique; on the one-in-trillions clash with an existing
    prefix the insert fails on the unique index and a new prefix is drawn.
    """
    for _ in range(5):
        prefix = _new_prefix()
        raw_key = f"{prefix}.{secrets.token_urlsafe(_SECRET_BYTES)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    partner=partner, name=name, prefix=prefix, key_hash=hash_raw_key(raw_key), can_write=can_write
                )
        except IntegrityError:
            continue
        return IssuedApiKey(api_key=api_key, raw_key=raw_key)
    raise RuntimeError("could not draw a unique API key prefix")  # pragma: no cover - 36**8 prefixes


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good; the next request made with it gets 401. Revoking twice keeps the first time."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    api_key.refresh_from_db(fields=["revoked_at", "key_hash"])
    forget_api_keys(key_hashes=[api_key.key_hash])
    return api_key


def api_key_use_marker(*, api_key: ApiKey) -> str:
    """The cache key whose absence means "this key's use has not been written this interval"."""
    return f"api:key-used:{api_key.pk}"


def api_key_record_use(*, api_key: ApiKey) -> None:
    """Move ``last_used_at`` to now.

    Called only for the first request of each ``API_KEY_LAST_USED_INTERVAL`` per key: the
    API middleware learns that from the rate limiter, which sets the key's use marker in
    the same Redis round trip (atomically, across every worker), so noting a key's use
    costs one row write a minute instead of one per request.
    """
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
