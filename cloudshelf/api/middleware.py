"""HTTP concerns every ``/api/`` answer shares, applied in one place.

For a request under ``/api/`` this middleware:

1. resolves the API key, remembered for DRF's authentication: from the cache when it
   knows the key (live, or known to match nothing); otherwise it first spends one request
   from the client address's bucket and only then queries, so a flood of made-up keys is
   refused by Redis and never reaches Postgres;
2. spends one request from the caller's rate-limit bucket — the partner's, by plan, or
   the client address's for calls without a valid key — and answers 429 at once when
   it is empty, before any view work;
3. refuses a body over ``API_MAX_BODY_BYTES`` with 413 before anything reads it (by its
   ``Content-Length``; a chunked body is read only up to the limit);
4. after the view: adds ``ETag`` and ``Last-Modified`` to successful GETs and answers
   304 to a matching conditional request, adds ``Vary`` on the key headers, and marks
   answers that did not choose a ``Cache-Control`` as private;
5. turns the HTML 404 of an unknown URL and any crash outside DRF into the JSON shape;
6. puts the ``RateLimit-*`` headers on every answer, 304s and errors included.

``Last-Modified`` is the time this representation of this URL was first served, kept in
the cache beside its ETag (``representation_last_modified``). Database ``updated_at``
columns would lie: ratings, stock and bulk price changes are ``UPDATE``s that do not
touch them, and a stale ``Last-Modified`` makes caches keep stale prices.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.http import http_date

from cloudshelf.api.authentication import (
    ApiKey,
    Credential,
    key_store,
    presented_key,
    remember_credential,
    request_credential,
)
from cloudshelf.api.errors import DEPENDENCY_ERRORS, DEPENDENCY_RETRY_AFTER_SECONDS, error_response
from cloudshelf.client import client_address
from cloudshelf.ratelimit import RateLimit, RateLimitDecision, UseMarker, address_subject, rate_limit_hit

logger = logging.getLogger("cloudshelf.api")

API_PATH_PREFIX = "/api/"
LAST_MODIFIED_TTL_SECONDS = 60 * 60
_READ_CHUNK_BYTES = 16 * 1024


def _address_hit(request: HttpRequest) -> RateLimitDecision | None:
    """One request from the client address's bucket: calls without a live key, and key lookups."""
    anonymous = RateLimit(rate=settings.API_ANONYMOUS_RATE_PER_SECOND, burst=settings.API_ANONYMOUS_BURST)
    return rate_limit_hit(bucket=f"address:{address_subject(client_address(request))}", limit=anonymous)


def _partner_hit(api_key: ApiKey) -> RateLimitDecision | None:
    store = key_store()
    marker = UseMarker(store.use_marker(api_key), settings.API_KEY_LAST_USED_INTERVAL)
    decision = rate_limit_hit(bucket=f"partner:{api_key.partner.pk}", limit=api_key.partner.rate_limit, marker=marker)
    if decision is not None and decision.is_first_use:
        store.record_use(api_key)
    return decision


def _throttle(request: HttpRequest) -> RateLimitDecision | None:
    """Resolve the key and spend from the right bucket; the database is asked only within the address's limit."""
    raw_key = presented_key(request)
    store = key_store()
    known = store.cached(raw_key) if raw_key else None
    api_key: ApiKey | None
    if raw_key and known is None:  # only the database can say: throttle the address first
        decision = _address_hit(request)
        if decision is not None and not decision.is_allowed:
            return decision  # refused before the lookup; the view (and DRF's authentication) never runs
        api_key = store.lookup(raw_key)
        if api_key is None:
            remember_credential(request, Credential(api_key=None, was_presented=True))
            return decision
    else:
        api_key = known.api_key if known is not None else None
    remember_credential(request, Credential(api_key=api_key, was_presented=raw_key is not None))
    return _partner_hit(api_key) if api_key is not None else _address_hit(request)


def _too_large() -> HttpResponse:
    limit = settings.API_MAX_BODY_BYTES
    return error_response(413, "request_too_large", f"The request body is larger than {limit:,} bytes.")


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, in small reads: never more in memory than that."""
    received = bytearray()
    while len(received) < limit and (chunk := stream.read(min(_READ_CHUNK_BYTES, limit - len(received)))):
        received += chunk
    return bytes(received)


def _refuse_large_body(request: HttpRequest) -> HttpResponse | None:
    """413 for a body over ``API_MAX_BODY_BYTES``, decided before anything reads it.

    A declared ``Content-Length`` is judged unread. A chunked body has none: it is read up
    to one byte past the limit, and when it fits it is handed to Django as a body of known
    length (Django reads nothing of a request without one, so the partner would otherwise
    get "field required" for a body it did send).
    """
    limit = settings.API_MAX_BODY_BYTES
    declared = str(request.META.get("CONTENT_LENGTH") or "")
    if declared.isascii() and declared.isdigit():  # anything else Django reads as no body at all
        # By length first: int() refuses strings of over 4,300 digits with an exception.
        return _too_large() if len(declared) > len(str(limit)) or int(declared) > limit else None
    if "chunked" not in str(request.META.get("HTTP_TRANSFER_ENCODING", "")).lower():
        return None
    stream = request.META.get("wsgi.input")  # a WSGI request's META is its environ
    body = _read_at_most(stream, limit + 1) if stream is not None else b""
    if len(body) > limit:
        return _too_large()
    request._stream = io.BytesIO(body)
    request.META["CONTENT_LENGTH"] = str(len(body))
    return None


def representation_last_modified(scope: str, etag: str) -> int:
    """When the representation ``etag`` of ``scope`` (a URL) was first served, in epoch seconds.

    A new ETag for the URL gets a new time, strictly later than the previous one, so a
    client holding an older representation never gets a 304 for a newer one — even when
    both were made in the same second or the content returned to an earlier state.
    Without the cache (Redis down) every answer is "modified now": slower, never wrong.
    """
    key = f"api:last-modified:{hashlib.sha256(scope.encode()).hexdigest()[:32]}"
    now = int(time.time())
    stored = cache.get(key)
    if isinstance(stored, tuple) and stored[0] == etag:
        return int(stored[1])
    modified = max(now, int(stored[1]) + 1) if isinstance(stored, tuple) else now
    cache.set(key, (etag, modified), LAST_MODIFIED_TTL_SECONDS)
    return modified


def _conditional(request: HttpRequest, response: HttpResponse) -> HttpResponseBase:
    etag = '"' + hashlib.blake2b(response.content, digest_size=16).hexdigest() + '"'
    credential = request_credential(request)
    # Private answers (a partner's carts) may differ per partner at the same URL.
    scope = request.get_full_path()
    if "public" not in response.get("Cache-Control", "") and credential.partner is not None:
        scope = f"{credential.partner.pk}:{scope}"
    last_modified = representation_last_modified(scope, etag)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    return get_conditional_response(request, etag=etag, last_modified=last_modified, response=response) or response


class PartnerApiMiddleware:
    """Keys, throttling, caching headers and the JSON error shape for everything under ``/api/``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path.startswith(API_PATH_PREFIX):
            return self.get_response(request)
        try:
            decision = _throttle(request)
        except DEPENDENCY_ERRORS as error:  # the key lookup needs Postgres; without it nothing can be served
            response: HttpResponseBase = self._dependency_down(request, error)
            decision = None
        else:
            if decision is not None and not decision.is_allowed:
                response = error_response(
                    429, "throttled", "Too many requests for this plan; retry after the Retry-After seconds."
                )
            else:
                response = _refuse_large_body(request) or self._finish(request, self.get_response(request))
        if "Cache-Control" not in response:
            patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ("Authorization", "X-API-Key"))
        for name, value in (decision.headers() if decision else {}).items():
            response[name] = value
        return response

    def _finish(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code == 404 and not response.get("Content-Type", "").startswith("application/json"):
            return error_response(404, "not_found", "There is no API endpoint at this URL.")
        if request.method in ("GET", "HEAD") and response.status_code == 200 and isinstance(response, HttpResponse):
            if "Cache-Control" not in response:
                patch_cache_control(response, private=True, no_cache=True)
            return _conditional(request, response)
        return response

    def _dependency_down(self, request: HttpRequest, error: Exception) -> HttpResponse:
        logger.error("dependency unavailable on %s", request.path, exc_info=error)
        return error_response(503, "service_unavailable", headers={"Retry-After": str(DEPENDENCY_RETRY_AFTER_SECONDS)})

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A crash outside DRF's handler (DRF views handle their own): same shape, logged."""
        if not request.path.startswith(API_PATH_PREFIX):
            return None
        if isinstance(exception, DEPENDENCY_ERRORS):
            return self._dependency_down(request, exception)
        logger.error("unhandled error on %s", request.path, exc_info=exception)
        return error_response(500, "server_error")
