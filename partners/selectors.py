"""Reads of the partners app: API key lookups, and partners' carts and orders.

A key lookup asks the cache first (``cached_api_key``: live keys, and keys that matched
nothing, by hash) and the database only on a miss (``api_key_lookup``); the API
middleware does the latter only after the client address's bucket allowed it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet

from cart.models import Order
from partners.key_cache import (
    KEY_CACHE_SECONDS,
    KEY_PREFIX,
    hash_raw_key,
    key_cache_key,
    key_generation,
    key_generation_key,
)
from partners.models import ApiKey, Partner, PartnerCart

# Longer than any key we issue (8 + 8 + 1 + 43 characters), short enough to refuse junk unhashed.
MAX_KEY_LENGTH = 128

# --- API keys ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownKey:
    """A lookup answered without the database: the live key, or ``None`` for a key that matches nothing."""

    api_key: ApiKey | None


def _is_plausible(raw_key: str) -> bool:
    return raw_key.startswith(KEY_PREFIX) and len(raw_key) <= MAX_KEY_LENGTH


def cached_api_key(raw_key: str) -> KnownKey | None:
    """What is known of ``raw_key`` without a query; ``None`` when only the database can say.

    Keys that cannot be ours (wrong prefix, absurd length) are known bad without a lookup.
    Otherwise one cache round trip reads the cached answer and the key's generation token
    together; the answer counts only if it was cached under the current token.
    """
    if not _is_plausible(raw_key):
        return KnownKey(api_key=None)
    key_hash = hash_raw_key(raw_key)
    found = cache.get_many([key_cache_key(key_hash), key_generation_key(key_hash)])
    entry, token = found.get(key_cache_key(key_hash)), found.get(key_generation_key(key_hash))
    if not isinstance(entry, tuple) or token is None or entry[0] != token:
        return None
    return KnownKey(api_key=None if entry[1] is None else _key_from_cache(entry[1]))


def api_key_lookup(raw_key: str) -> ApiKey | None:
    """The unrevoked key whose hash matches ``raw_key``, with its partner, from the database.

    The answer is cached under the generation token read *before* the query: a live key
    for ``KEY_CACHE_SECONDS``, a key that matches nothing for ``API_BAD_KEY_CACHE_SECONDS``
    (so a client retrying a bad key costs a cache read, not a query). Revoking or saving a
    key draws a new token (``forget_api_keys``), which makes any answer read before it stale,
    even one cached after the revocation by a request that was already under way.
    """
    if not _is_plausible(raw_key):
        return None
    key_hash = hash_raw_key(raw_key)
    token = key_generation(key_hash)
    api_key = _key_row(key_hash)
    if token is not None:  # no token: the cache is down, and nothing is cached
        if api_key is not None:
            cache.set(key_cache_key(key_hash), (token, _key_for_cache(api_key)), KEY_CACHE_SECONDS)
        elif settings.API_BAD_KEY_CACHE_SECONDS:
            cache.set(key_cache_key(key_hash), (token, None), settings.API_BAD_KEY_CACHE_SECONDS)
    return api_key


def _key_row(key_hash: str) -> ApiKey | None:
    return ApiKey.objects.select_related("partner").filter(key_hash=key_hash, revoked_at__isnull=True).first()


# Cached as a tuple of plain values: unpickling model instances costs several times more.
_KEY_FIELDS = ("id", "name", "prefix", "key_hash", "can_write", "created_at", "last_used_at", "revoked_at")
_PARTNER_FIELDS = (
    "id",
    "name",
    "contact_email",
    "plan",
    "custom_rate_per_second",
    "custom_burst",
    "is_active",
    "account_id",
    "created_at",
)


def _key_for_cache(api_key: ApiKey) -> tuple[tuple[object, ...], tuple[object, ...]]:
    partner = api_key.partner
    return (
        tuple(getattr(api_key, name) for name in _KEY_FIELDS),
        tuple(getattr(partner, name) for name in _PARTNER_FIELDS),
    )


def _key_from_cache(cached: tuple[tuple[object, ...], tuple[object, ...]]) -> ApiKey:
    key_values, partner_values = cached
    partner = Partner(**dict(zip(_PARTNER_FIELDS, partner_values, strict=True)))
    partner._state.adding, partner._state.db = False, "default"
    api_key = ApiKey(partner=partner, **dict(zip(_KEY_FIELDS, key_values, strict=True)))
    api_key._state.adding, api_key._state.db = False, "default"
    return api_key


# --- Partner carts and orders ------------------------------------------------------------------


def partner_cart(*, partner: Partner, cart_id: uuid.UUID) -> PartnerCart | None:
    """Cart ``cart_id`` only if ``partner`` opened it: the ownership check of every cart call."""
    return PartnerCart.objects.filter(pk=cart_id, partner=partner).first()


def partner_orders(*, partner: Partner) -> QuerySet[Order]:
    """The partner's orders with their lines and cart, newest first (the customer-orders index)."""
    orders = Order.objects.filter(user_id=partner.account_id) if partner.account_id else Order.objects.none()
    return orders.select_related("partner_cart").prefetch_related("lines").order_by("-created_at", "-id")


def partner_order(*, partner: Partner, order_id: int) -> Order | None:
    """Order ``order_id`` only if ``partner`` placed it."""
    if not 0 < order_id < 2**63:
        return None
    return partner_orders(partner=partner).filter(pk=order_id).first()
