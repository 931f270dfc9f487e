"""The partner API's rate limiter lives in ``cloudshelf.ratelimit`` (the site's limits share it).

Kept as a re-export so the API's imports keep working.
"""

from __future__ import annotations

from cloudshelf.ratelimit import RateLimitDecision, UseMarker, rate_limit_hit

__all__ = ["RateLimitDecision", "UseMarker", "rate_limit_hit"]
