"""Rate limits shared by every gunicorn worker and machine: the partner API's and the site's.

Two algorithms, both run inside one Lua script on the ``"durable"`` Redis (limits must not
be evicted by a cache flood) on Redis's own clock (``TIME``), so two workers never both
spend the last request and machines with skewed clocks still agree:

- **GCRA** (``rate_limit_hit``), the "generic cell rate algorithm": a token bucket that
  stores one timestamp, the *theoretical arrival time* (TAT). A request is allowed when
  ``now >= TAT + interval - burst * interval``; allowing it moves TAT one interval on.
  Cheap and smooth, but a full bucket plus its refill lets up to ``2 * burst`` through in
  the first window: fine for "generous, stop the crawler" limits (search, carts).
- **Sliding window** (``window_reserve``): a sorted set of the attempts of the last
  window(s), for limits that must hold *exactly* ("at most 10 failed logins per account
  in any 15 minutes"). A slot is reserved *before* the attempt, so fifty concurrent
  guesses cannot all pass a "9 so far" check; an attempt that turned out not to count
  (the password was right) gives its slot back with ``window_release``.

With the embedded default (no ``REDIS_URL``) the same arithmetic runs over Django's
cache under a process lock: ``make run`` is one process, which is all that lock needs.
If Redis is unreachable every limiter fails *open* (the request goes through, a warning
is logged): limits protect the service, and refusing everyone because the limiter's store
is sick would cause the outage they exist to prevent.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

from cloudshelf.client import client_address
from cloudshelf.redis_keys import hash_tag

if TYPE_CHECKING:
    from django.core.cache.backends.base import BaseCache
    from redis.commands.core import Script

logger = logging.getLogger(__name__)

_MICROSECONDS = 1_000_000
STORE_ALIAS = "durable"
KEY_NAMESPACE = "ratelimit"


class TokenBucket(Protocol):
    """Anything with a refill ``rate`` (requests per second) and a ``burst`` size."""

    @property
    def rate(self) -> float: ...

    @property
    def burst(self) -> int: ...


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``rate`` requests per second refill, ``burst`` is its size."""

    rate: float
    burst: int

    @property
    def window_seconds(self) -> float:
        """How long an empty bucket takes to fill up again."""
        return self.burst / self.rate

    @classmethod
    def per_window(cls, count: int, seconds: float) -> RateLimit:
        """``count`` requests at once, refilled over ``seconds``."""
        return cls(rate=count / seconds, burst=count)


# --- GCRA ---------------------------------------------------------------------------------

# KEYS[1] = bucket, KEYS[2] = "first use" marker (optional); ARGV[1] = emission interval (µs),
# ARGV[2] = burst, ARGV[3] = marker lifetime (s). Returns {allowed (0/1), remaining, µs until
# the bucket is full, µs until a retry can succeed, 1 if this request set the marker}. The
# marker rides along so that noting a key's use costs no extra round trip.
_GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local first_use = 0
if KEYS[2] and redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[3])) then first_use = 1 end
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - interval * burst
if now < allow_at then
  return {0, 0, tat - now, allow_at - now, first_use}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), new_tat - now, 0, first_use}
"""


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one request against a bucket, and what the headers report."""

    is_allowed: bool
    limit: TokenBucket
    remaining: int
    reset_seconds: float  # until the bucket is full again
    retry_after_seconds: float  # 0 when allowed
    is_first_use: bool = False  # this request set the "first use" marker it was given

    def headers(self) -> dict[str, str]:
        """The IETF draft ``RateLimit-*`` headers (plus ``Retry-After`` on a refusal)."""
        window = math.ceil(self.limit.burst / self.limit.rate)
        headers = {
            "RateLimit-Limit": str(self.limit.burst),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_seconds)),
            "RateLimit-Policy": f"{self.limit.burst};w={window}",
        }
        if not self.is_allowed:
            headers["Retry-After"] = retry_after_header(self.retry_after_seconds)
        return headers


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds, at least 1 (0 would invite an immediate retry)."""
    return str(max(1, math.ceil(seconds)))


def _decision(limit: TokenBucket, raw: Sequence[int]) -> RateLimitDecision:
    is_allowed, remaining, reset_us, retry_us, first_use = (int(value) for value in raw)
    return RateLimitDecision(
        is_allowed=bool(is_allowed),
        limit=limit,
        remaining=max(0, min(remaining, limit.burst)),
        reset_seconds=reset_us / _MICROSECONDS,
        retry_after_seconds=retry_us / _MICROSECONDS,
        is_first_use=bool(first_use),
    )


def _interval_us(limit: TokenBucket) -> int:
    return max(1, round(_MICROSECONDS / limit.rate))


@dataclass(frozen=True)
class UseMarker:
    """A cache key set (if absent) for ``seconds`` by the same call, to note a first use per period."""

    key: str
    seconds: int


_scripts: dict[str, Script] = {}


def _store() -> BaseCache:
    return caches[STORE_ALIAS]


def _uses_redis() -> bool:
    return bool(settings.REDIS_URL)


def _run_script(name: str, source: str, keys: list[str], args: list[Any]) -> Any:
    """EVALSHA on the durable Redis; redis-py loads the script the first time a server lacks it."""
    from django_redis import get_redis_connection

    connection = get_redis_connection(STORE_ALIAS)
    if name not in _scripts:
        _scripts[name] = connection.register_script(source)
    return _scripts[name](keys=keys, args=args, client=connection)


def _key(name: str) -> str:
    # make_key adds the deployment's key prefix, so tests and tenants never share buckets.
    return str(_store().make_key(f"{KEY_NAMESPACE}:{name}"))


def gcra_key(bucket: str) -> str:
    """The Redis key of a GCRA bucket: ``ratelimit:{<bucket>}``, the bucket's name as its hash tag.

    The script also sets the request's ``UseMarker``, so on a Redis Cluster a marker's key
    must carry the same tag (``api:key-used:{partner:3}:7`` beside ``ratelimit:{partner:3}``;
    see ``cloudshelf.redis_keys``).
    """
    return _key(hash_tag(bucket))


_local_lock = threading.Lock()


def _cache_gcra(key: str, limit: TokenBucket, marker: UseMarker | None) -> RateLimitDecision:
    """The Lua script's arithmetic over Django's cache, for the single-process embedded default."""
    store = _store()
    interval = _interval_us(limit)
    with _local_lock:
        first_use = int(bool(store.add(marker.key, 1, marker.seconds))) if marker else 0
        now = time.time_ns() // 1000
        tat = max(int(store.get(key) or now), now)
        new_tat = tat + interval
        allow_at = new_tat - interval * limit.burst
        if now < allow_at:
            return _decision(limit, [0, 0, tat - now, allow_at - now, first_use])
        store.set(key, new_tat, math.ceil((new_tat - now) / _MICROSECONDS) + 1)
        return _decision(limit, [1, (now - allow_at) // interval, new_tat - now, 0, first_use])


def rate_limit_hit(*, bucket: str, limit: TokenBucket, marker: UseMarker | None = None) -> RateLimitDecision | None:
    """Spend one request from ``bucket`` (and set ``marker`` if absent); ``None`` when the store is unreachable."""
    try:
        if _uses_redis():
            key = gcra_key(bucket)
            keys = [key, str(_store().make_key(marker.key))] if marker else [key]
            args = [_interval_us(limit), limit.burst, marker.seconds if marker else 0]
            return _decision(limit, _run_script("gcra", _GCRA_SCRIPT, keys, args))
        return _cache_gcra(_key(bucket), limit, marker)
    except Exception:
        logger.warning("rate limiter unavailable; letting %s through", bucket, exc_info=True)
        return None


# --- Sliding window -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """At most ``limit`` counted attempts in any ``seconds``."""

    limit: int
    seconds: int


@dataclass(frozen=True)
class WindowDecision:
    """A reservation in a sliding-window bucket: allowed (with its ``token``) or refused."""

    is_allowed: bool
    token: str  # "" when refused
    retry_after_seconds: float  # 0 when allowed

    def headers(self) -> dict[str, str]:
        """``Retry-After`` on a refusal."""
        return {} if self.is_allowed else {"Retry-After": retry_after_header(self.retry_after_seconds)}


# KEYS[1] = sorted set of attempts (score: µs); ARGV[1] = member for this attempt, then pairs of
# (limit, window µs). Drops entries older than the longest window; refuses if any window is
# full, with the µs until enough of its entries age out; else adds the member.
_WINDOW_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local longest = 0
for i = 2, #ARGV, 2 do
  local window = tonumber(ARGV[i + 1])
  if window > longest then longest = window end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - longest)
local wait = 0
for i = 2, #ARGV, 2 do
  local limit = tonumber(ARGV[i])
  local window = tonumber(ARGV[i + 1])
  local inside = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf', 'WITHSCORES')
  local count = #inside / 2
  if count >= limit then
    local oldest_needed = tonumber(inside[(count - limit) * 2 + 2])
    local until_free = oldest_needed + window - now
    if until_free > wait then wait = until_free end
  end
end
if wait > 0 then return {0, wait} end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(longest / 1000) + 1)
return {1, 0}
"""


# Embedded default only: how long a released-from list is kept (reserve drops old entries anyway).
_CACHE_WINDOW_KEEP_SECONDS = 24 * 60 * 60


def _window_args(windows: Sequence[Window]) -> list[int]:
    return [value for window in windows for value in (window.limit, window.seconds * _MICROSECONDS)]


def _cache_window_reserve(key: str, token: str, windows: Sequence[Window]) -> tuple[int, int]:
    """The Lua script's arithmetic over Django's cache (a list of (µs, token)), for the embedded default."""
    store = _store()
    longest = max(window.seconds for window in windows) * _MICROSECONDS
    with _local_lock:
        now = time.time_ns() // 1000
        entries = sorted(entry for entry in store.get(key, []) if entry[0] > now - longest)
        wait = 0
        for window in windows:
            inside = [stamp for stamp, _ in entries if stamp > now - window.seconds * _MICROSECONDS]
            if len(inside) >= window.limit:
                wait = max(wait, inside[len(inside) - window.limit] + window.seconds * _MICROSECONDS - now)
        if wait > 0:
            store.set(key, entries, math.ceil(longest / _MICROSECONDS) + 1)
            return 0, wait
        store.set(key, [*entries, (now, token)], math.ceil(longest / _MICROSECONDS) + 1)
        return 1, 0


def window_reserve(*, bucket: str, windows: Sequence[Window]) -> WindowDecision | None:
    """Count one attempt in ``bucket`` unless a window is full; ``None`` when the store is unreachable.

    The attempt counts from now on. Call ``window_release`` with the decision's token if
    it turns out not to be one that should count.
    """
    windows = [window for window in windows if window.limit > 0]
    if not windows:
        return WindowDecision(is_allowed=True, token="", retry_after_seconds=0)
    key = _key(f"window:{bucket}")
    token = secrets.token_hex(8)
    try:
        if _uses_redis():
            raw = _run_script("window", _WINDOW_SCRIPT, [key], [token, *_window_args(windows)])
            allowed, wait_us = (int(value) for value in raw)
        else:
            allowed, wait_us = _cache_window_reserve(key, token, windows)
    except Exception:
        logger.warning("rate limiter unavailable; letting %s through", bucket, exc_info=True)
        return None
    if not allowed:
        return WindowDecision(is_allowed=False, token="", retry_after_seconds=wait_us / _MICROSECONDS)
    return WindowDecision(is_allowed=True, token=token, retry_after_seconds=0)


def window_release(*, bucket: str, token: str) -> None:
    """Take back the attempt ``token`` reserved in ``bucket`` (it did not count after all)."""
    if not token:
        return
    key = _key(f"window:{bucket}")
    try:
        if _uses_redis():
            from django_redis import get_redis_connection

            get_redis_connection(STORE_ALIAS).zrem(key, token)
            return
        store = _store()
        with _local_lock:
            entries = [entry for entry in store.get(key, []) if entry[1] != token]
            store.set(key, entries, _CACHE_WINDOW_KEEP_SECONDS)
    except Exception:
        logger.warning("rate limiter unavailable; could not release an attempt of %s", bucket, exc_info=True)


# --- The site's limits ----------------------------------------------------------------------


def address_subject(address: str) -> str:
    """The bucket subject of a client address: IPv6 by its /64, which one customer usually holds whole."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def site_limits_enabled() -> bool:
    """The switch for every limit of the site's pages (the partner API's limits are its plans)."""
    return bool(getattr(settings, "RATE_LIMITS_ENABLED", True))


@dataclass(frozen=True)
class SiteLimit:
    """A GCRA limit of the site: at most ``settings.<setting>`` requests per ``window_seconds`` per subject.

    The setting holds the count (0 switches the limit off); the bucket allows that many
    at once and refills them over the window.
    """

    name: str
    setting: str
    window_seconds: int

    def count(self) -> int:
        """The configured count; 0 when this limit (or every site limit) is off."""
        return int(getattr(settings, self.setting)) if site_limits_enabled() else 0

    def hit(self, subject: str) -> RateLimitDecision | None:
        """Spend one request of ``subject``; ``None`` when off or the store is unreachable."""
        count = self.count()
        if count <= 0:
            return None
        return rate_limit_hit(bucket=f"{self.name}:{subject}", limit=RateLimit.per_window(count, self.window_seconds))


RATE_LIMITED_CODE = "rate_limited"
RATE_LIMITED_MESSAGE = "Too many requests from you in a short time. Please wait a little and try again."


def rate_limited_json(code: str, message: str) -> dict[str, Any]:
    """The JSON body of a refusal: ``{"code", "message"}``."""
    return {"code": code, "message": message}


def too_many_requests(
    request: HttpRequest,
    *,
    retry_after_seconds: float,
    as_json: bool = False,
    json_body: Callable[[str, str], dict[str, Any]] = rate_limited_json,
) -> HttpResponse:
    """The site's 429: a friendly page (or JSON, ``json_body``'s shape) with ``Retry-After``, never cached."""
    retry_after = retry_after_header(retry_after_seconds)
    response: HttpResponse
    if as_json:
        response = JsonResponse(json_body(RATE_LIMITED_CODE, RATE_LIMITED_MESSAGE), status=429)
    else:
        minutes = math.ceil(int(retry_after) / 60)
        context = {
            "page_title": "Slow down a little",
            "robots": "noindex",
            "message": RATE_LIMITED_MESSAGE,
            "minutes": minutes,
        }
        response = HttpResponse(render_to_string("429.html", context, request=request), status=429)
    response["Retry-After"] = retry_after
    add_never_cache_headers(response)
    return response


View = Callable[..., HttpResponseBase]


def address_of(request: HttpRequest) -> str:
    """The bucket subject of the request's client address (``limit_requests``'s default)."""
    return "address:" + address_subject(client_address(request))


def customer_of(request: HttpRequest) -> str:
    """The bucket subject of the signed-in customer (use below ``login_required``)."""
    return f"customer:{request.user.pk}"


def limit_requests(
    *limits: SiteLimit,
    methods: Sequence[str] = ("POST",),
    subject: Callable[[HttpRequest], str] = address_of,
    applies: Callable[[HttpRequest], bool] | None = None,
    as_json: Callable[[HttpRequest], bool] | bool = False,
    json_body: Callable[[str, str], dict[str, Any]] = rate_limited_json,
) -> Callable[[View], View]:
    """Refuse a request to the decorated view with the site's 429 when any of ``limits`` of its
    ``subject`` (the client address by default) is spent.

    Only ``methods`` count (a GET of a form page is free), and only requests ``applies``
    accepts when given. Place it outermost, so a refused request costs nothing else: no
    cache lookup, no view, no write.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def limited(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method in methods and (applies is None or applies(request)):
                bucket_subject = subject(request)
                for limit in limits:
                    decision = limit.hit(bucket_subject)
                    if decision is not None and not decision.is_allowed:
                        wants_json = as_json(request) if callable(as_json) else as_json
                        return too_many_requests(
                            request,
                            retry_after_seconds=decision.retry_after_seconds,
                            as_json=wants_json,
                            json_body=json_body,
                        )
            return view(request, *args, **kwargs)

        return limited

    return decorator
