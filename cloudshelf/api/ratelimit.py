"""Per-partner rate limiting shared by every gunicorn worker and machine.

The algorithm is GCRA (the "generic cell rate algorithm", a token bucket that stores a
single timestamp): each bucket keeps its *theoretical arrival time* (TAT). A request is
allowed when ``now >= TAT + interval - burst * interval``; allowing it moves TAT one
interval on. Read, decide and write happen inside one Lua script, so two workers can
never both spend the last token, and the clock is Redis's own (``TIME``), so machines
with skewed clocks still agree.

With the embedded default (no ``REDIS_URL``) the same arithmetic runs over Django's
cache under a process lock: ``make run`` is one process, which is all that lock needs.
If Redis is unreachable the limiter fails *open* (the request goes through, a warning is
logged): throttling protects the service, and refusing every partner because the
limiter's store is sick would cause the outage it exists to prevent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from cloudshelf.api.plans import RateLimit

if TYPE_CHECKING:
    from redis.commands.core import Script

logger = logging.getLogger(__name__)

_MICROSECONDS = 1_000_000

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
    limit: RateLimit
    remaining: int
    reset_seconds: float  # until the bucket is full again
    retry_after_seconds: float  # 0 when allowed
    is_first_use: bool = False  # this request set the "first use" marker it was given

    def headers(self) -> dict[str, str]:
        """The IETF draft ``RateLimit-*`` headers (plus ``Retry-After`` on a refusal)."""
        headers = {
            "RateLimit-Limit": str(self.limit.burst),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_seconds)),
            "RateLimit-Policy": f"{self.limit.burst};w={math.ceil(self.limit.window_seconds)}",
        }
        if not self.is_allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


def _decision(limit: RateLimit, raw: list[int]) -> RateLimitDecision:
    is_allowed, remaining, reset_us, retry_us, first_use = (int(value) for value in raw)
    return RateLimitDecision(
        is_allowed=bool(is_allowed),
        limit=limit,
        remaining=max(0, min(remaining, limit.burst)),
        reset_seconds=reset_us / _MICROSECONDS,
        retry_after_seconds=retry_us / _MICROSECONDS,
        is_first_use=bool(first_use),
    )


def _interval_us(limit: RateLimit) -> int:
    return max(1, round(_MICROSECONDS / limit.rate))


_script: Script | None = None


@dataclass(frozen=True)
class UseMarker:
    """A cache key set (if absent) for ``seconds`` by the same call, to note a first use per period."""

    key: str
    seconds: int


def _redis_hit(key: str, limit: RateLimit, marker: UseMarker | None) -> RateLimitDecision:
    global _script
    from django_redis import get_redis_connection

    connection = get_redis_connection("default")
    if _script is None:
        _script = connection.register_script(_GCRA_SCRIPT)
    # EVALSHA; redis-py loads the script itself the first time a server has not seen it.
    keys = [key, str(cache.make_key(marker.key))] if marker else [key]
    args = [_interval_us(limit), limit.burst, marker.seconds if marker else 0]
    return _decision(limit, _script(keys=keys, args=args, client=connection))


_local_lock = threading.Lock()


def _cache_hit(key: str, limit: RateLimit, marker: UseMarker | None) -> RateLimitDecision:
    """The Lua script's arithmetic over Django's cache, for the single-process embedded default."""
    interval = _interval_us(limit)
    with _local_lock:
        first_use = int(bool(cache.add(marker.key, 1, marker.seconds))) if marker else 0
        now = time.time_ns() // 1000
        tat = max(int(cache.get(key) or now), now)
        new_tat = tat + interval
        allow_at = new_tat - interval * limit.burst
        if now < allow_at:
            return _decision(limit, [0, 0, tat - now, allow_at - now, first_use])
        cache.set(key, new_tat, math.ceil((new_tat - now) / _MICROSECONDS) + 1)
        return _decision(limit, [1, (now - allow_at) // interval, new_tat - now, 0, first_use])


def rate_limit_hit(*, bucket: str, limit: RateLimit, marker: UseMarker | None = None) -> RateLimitDecision | None:
    """Spend one request from ``bucket`` (and set ``marker`` if absent); ``None`` when the store is unreachable."""
    # cache.make_key adds the deployment's key prefix, so tests and tenants never share buckets.
    key = str(cache.make_key(f"api:ratelimit:{bucket}"))
    try:
        if settings.REDIS_URL:
            return _redis_hit(key, limit, marker)
        return _cache_hit(key, limit, marker)
    except Exception:
        logger.warning("rate limiter unavailable; letting %s through", bucket, exc_info=True)
        return None
