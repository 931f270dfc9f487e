"""Rate-limit plans: how fast and how bursty each partner may call the API.

A plan is a token bucket: ``rate`` requests per second sustained, and up to ``burst``
requests at once after a quiet spell. The numbers are commercial decisions, so they live
in code review rather than in the environment; a partner with a bespoke contract gets
per-partner overrides in the admin instead of a new plan.
"""

from __future__ import annotations

from django.db import models

from cloudshelf.ratelimit import RateLimit

__all__ = ["PLAN_LIMITS", "Plan", "RateLimit"]


class Plan(models.TextChoices):
    STARTER = "starter", "Starter: 10 requests/s, bursts of 20"
    GROWTH = "growth", "Growth: 50 requests/s, bursts of 100"
    SCALE = "scale", "Scale: 250 requests/s, bursts of 500"
    INTERNAL = "internal", "Internal (our own tools, benchmarks): 5,000 requests/s"


PLAN_LIMITS: dict[str, RateLimit] = {
    Plan.STARTER: RateLimit(rate=10, burst=20),
    Plan.GROWTH: RateLimit(rate=50, burst=100),
    Plan.SCALE: RateLimit(rate=250, burst=500),
    Plan.INTERNAL: RateLimit(rate=5000, burst=10000),
}
