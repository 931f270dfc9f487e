"""How API key lookups are cached and forgotten: by the key's hash, under a generation token.

Shared by the lookups (``partners.selectors``) and the writes that must make them stale
(``partners.services``, ``partners.receivers``). Keys are
``cs_live_<8 chars>.<43 chars of secret>`` (``KEY_PREFIX``); only their SHA-256 is kept.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.cache import cache
from django.db import transaction

from cloudshelf.redis_keys import hash_tag

KEY_PREFIX = "cs_live_"
# How long a live key (with its partner) is remembered instead of queried; edits made
# through the services and the admin forget it at once, anything else within this time.
KEY_CACHE_SECONDS = 60
# A key's generation token outlives the entries filled under it; when it expires a fresh
# token is drawn, which only costs one query (no entry can match a token never issued).
KEY_GENERATION_SECONDS = 2 * KEY_CACHE_SECONDS


def hash_raw_key(raw_key: str) -> str:
    """The stored form of a key: hex SHA-256 of the whole key string."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


# Both keys of one API key carry its hash as their hash tag (cloudshelf.redis_keys): the lookup
# reads them with one get_many, a single MGET of one slot on a Redis Cluster too.


def key_cache_key(key_hash: str) -> str:
    """Where the key's lookup result (live key, or "matches nothing") is cached, with its generation."""
    return f"api:key:v2:{hash_tag(key_hash)}"


def key_generation_key(key_hash: str) -> str:
    """Where the key's current generation token is kept (see ``key_generation``)."""
    return f"api:key-generation:{hash_tag(key_hash)}"


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
