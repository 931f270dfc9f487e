"""Who is calling: API keys in ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

The key is resolved once per request and remembered on the Django request: the API
middleware needs it first (to pick the partner's rate-limit bucket), then DRF's
authentication asks again (``request_credential``) and gets the same answer without a
second lookup.

Keys belong to the ``partners`` app, which this package never imports: the key store is
named by ``settings.API_KEY_STORE`` (``partners.keys.ApiKeyStore``), the way DRF's own
settings name its classes, and is used through the ``KeyStore`` protocol below. A store
answers from the cache when it can (``cached``: a live key, or a key known to match
nothing) and from the database otherwise (``lookup``), which the middleware asks only
after the client address's bucket allowed it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.conf import settings
from django.http import HttpRequest
from django.utils.module_loading import import_string
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from cloudshelf.ratelimit import RateLimit

if TYPE_CHECKING:
    from rest_framework.views import APIView

_ATTRIBUTE = "_cloudshelf_api_credential"


class ApiPartner(Protocol):
    """What the API machinery reads of a partner: who it is, whether it may call, how fast."""

    @property
    def pk(self) -> Any: ...

    @property
    def is_active(self) -> bool: ...

    @property
    def rate_limit(self) -> RateLimit: ...


class ApiKey(Protocol):
    """What the API machinery reads of a live key: its partner and whether it may write."""

    @property
    def partner(self) -> ApiPartner: ...

    @property
    def can_write(self) -> bool: ...


class KnownKey(Protocol):
    """A lookup answered without the database: the live key, or ``None`` for a key that matches nothing."""

    @property
    def api_key(self) -> ApiKey | None: ...


class KeyStore(Protocol):
    """Where keys are looked up and their use recorded (``settings.API_KEY_STORE``)."""

    def cached(self, raw_key: str) -> KnownKey | None:
        """What is known of ``raw_key`` without a query; ``None`` when only the database can say."""

    def lookup(self, raw_key: str) -> ApiKey | None:
        """The live key ``raw_key`` names, from the database."""

    def use_marker(self, api_key: Any) -> str:
        """The cache key the rate limiter sets when it counts the key's first use of an interval."""

    def record_use(self, api_key: Any) -> None:
        """Note that the key was used now."""


@functools.cache
def key_store() -> KeyStore:
    """The key store ``settings.API_KEY_STORE`` names (made once per process)."""
    return cast(KeyStore, import_string(settings.API_KEY_STORE)())


@dataclass(frozen=True)
class Credential:
    """What the request presented: no key, a key we do not honour, or a live key."""

    api_key: ApiKey | None
    was_presented: bool

    @property
    def partner(self) -> ApiPartner | None:
        return self.api_key.partner if self.api_key is not None else None


def presented_key(request: HttpRequest) -> str | None:
    """The raw key from the headers (``Authorization: Bearer`` first), or ``None`` when absent."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else header
    api_key_header = request.META.get("HTTP_X_API_KEY")
    return api_key_header.strip() if api_key_header is not None else None


def api_key_for_raw_key(raw_key: str) -> ApiKey | None:
    """The live key ``raw_key`` names, from the cache when it knows, else from the database."""
    store = key_store()
    known = store.cached(raw_key)
    return known.api_key if known is not None else store.lookup(raw_key)


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

    partner: ApiPartner
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> Any:
        return self.partner.pk

    def __str__(self) -> str:
        return f"partner:{self.partner.pk}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication by partner API key; ``request.auth`` is the key (a ``partners.ApiKey``)."""

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
        api_key = request.auth  # set only by ApiKeyAuthentication, the one authentication class
        if api_key is None:
            return False  # DRF turns this into 401, since authentication did not succeed
        if not api_key.partner.is_active:
            raise exceptions.PermissionDenied("This partner account is suspended.", code="partner_suspended")
        if request.method not in permissions.SAFE_METHODS and not api_key.can_write:
            raise exceptions.PermissionDenied("This API key is read-only.", code="read_only_key")
        return True
