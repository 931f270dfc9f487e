"""Who is calling: API keys in ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

The key is resolved once per request and remembered on the Django request: the API
middleware needs it first (to pick the partner's rate-limit bucket), then DRF's
authentication asks again (``request_credential``) and gets the same answer without a
second lookup. A lookup asks the cache first (``cached_api_key``: live keys, and keys that
matched nothing, by hash) and the database only on a miss (``api_key_lookup``), which the
middleware does only after the client address's bucket allowed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from cloudshelf.api.models import ApiKey, Partner
from cloudshelf.api.services import (
    KEY_CACHE_SECONDS,
    KEY_PREFIX,
    hash_raw_key,
    key_cache_key,
    key_generation,
    key_generation_key,
)

if TYPE_CHECKING:
    from rest_framework.views import APIView

# Longer than any key we issue (8 + 8 + 1 + 43 characters), short enough to refuse junk unhashed.
MAX_KEY_LENGTH = 128
_ATTRIBUTE = "_cloudshelf_api_credential"


@dataclass(frozen=True)
class Credential:
    """What the request presented: no key, a key we do not honour, or a live key."""

    api_key: ApiKey | None
    was_presented: bool

    @property
    def partner(self) -> Partner | None:
        return self.api_key.partner if self.api_key is not None else None


@dataclass(frozen=True)
class KnownKey:
    """A lookup answered without the database: the live key, or ``None`` for a key that matches nothing."""

    api_key: ApiKey | None


def presented_key(request: HttpRequest) -> str | None:
    """The raw key from the headers (``Authorization: Bearer`` first), or ``None`` when absent."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else header
    api_key_header = request.META.get("HTTP_X_API_KEY")
    return api_key_header.strip() if api_key_header is not None else None


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


def api_key_for_raw_key(raw_key: str) -> ApiKey | None:
    """The live key ``raw_key`` names, from the cache when it knows, else from the database."""
    known = cached_api_key(raw_key)
    return known.api_key if known is not None else api_key_lookup(raw_key)


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


def request_credential(request: HttpRequest) -> Credential:
    """Resolve (once) the key the request presents; the API middleware usually has already."""
    credential: Credential | None = getattr(request, _ATTRIBUTE, None)
    if credential is None:
        raw_key = presented_key(request)
        api_key = api_key_for_raw_key(raw_key) if raw_key else None
        credential = remember_credential(request, Credential(api_key=api_key, was_presented=raw_key is not None))
    return credential


def remember_credential(request: HttpRequest, credential: Credential) -> Credential:
    """Keep ``credential`` on the request, for DRF's authentication to find without another lookup."""
    setattr(request, _ATTRIBUTE, credential)
    return credential


@dataclass(frozen=True)
class PartnerPrincipal:
    """``request.user`` for API calls: the partner behind the key (``request.auth`` is the key)."""

    partner: Partner
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> int:
        return self.partner.pk

    def __str__(self) -> str:
        return f"partner:{self.partner.pk}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication by partner API key; ``request.auth`` is the ``ApiKey``."""

    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, ApiKey] | None:
        credential = request_credential(request._request)
        if credential.api_key is not None:
            return PartnerPrincipal(partner=credential.api_key.partner), credential.api_key
        if credential.was_presented:
            raise exceptions.AuthenticationFailed("The API key is not valid or has been revoked.")
        return None  # no key at all: the permission check answers 401 "not_authenticated"

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="CloudShelf Partner API"'


class IsActivePartner(permissions.BasePermission):
    """A live key of an active partner; writes also need a key that ``can_write``."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False  # DRF turns this into 401, since authentication did not succeed
        if not api_key.partner.is_active:
            raise exceptions.PermissionDenied("This partner account is suspended.", code="partner_suspended")
        if request.method not in permissions.SAFE_METHODS and not api_key.can_write:
            raise exceptions.PermissionDenied("This API key is read-only.", code="read_only_key")
        return True
