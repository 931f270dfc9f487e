"""Real-user monitoring: how fast pages were for the people who loaded them, measured in their browsers."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class NavigationType(models.TextChoices):
    """``PerformanceNavigationTiming.type``: a reload or a back/forward visit is faster than a fresh one."""

    NAVIGATE = "navigate"
    RELOAD = "reload"
    BACK_FORWARD = "back_forward"
    PRERENDER = "prerender"


class EffectiveConnectionType(models.TextChoices):
    """``navigator.connection.effectiveType``; blank where the browser does not say (Safari, Firefox)."""

    UNKNOWN = "", "unknown"
    SLOW_2G = "slow-2g", "slow 2G"
    G2 = "2g", "2G"
    G3 = "3g", "3G"
    G4 = "4g", "4G"


class RumBeacon(models.Model):
    """The timings of one sampled page view, as the browser measured them.

    Path-free on purpose: the route name and class say which kind of page it was, never the
    URL, its query string or who looked, so a beacon carries nothing personal. Every timing is
    optional because browsers offer different subsets (no LCP or INP in Safari, no INP without
    an interaction); a missing one is ``NULL``, not zero, so percentiles skip it.
    """

    received_at = models.DateTimeField(default=timezone.now)
    route_name = models.CharField(max_length=64)
    route_class = models.CharField(max_length=16)
    # Milliseconds from the navigation start.
    ttfb_ms = models.FloatField(null=True, blank=True)
    dom_ready_ms = models.FloatField(null=True, blank=True)
    load_ms = models.FloatField(null=True, blank=True)
    lcp_ms = models.FloatField(null=True, blank=True)
    inp_ms = models.FloatField(null=True, blank=True)
    # Cumulative layout shift is unitless.
    cls = models.FloatField(null=True, blank=True)
    navigation_type = models.CharField(max_length=16, choices=NavigationType.choices, blank=True)
    effective_connection_type = models.CharField(max_length=8, choices=EffectiveConnectionType.choices, blank=True)
    # The sampling rate the page ran with: one beacon at rate 0.1 stands for ten page views.
    sample_rate = models.FloatField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["received_at"], name="rumbeacon_by_time"),
            models.Index(fields=["route_class", "received_at"], name="rumbeacon_class_by_time"),
        ]

    def __str__(self) -> str:
        return f"{self.route_name} at {self.received_at:%Y-%m-%d %H:%M:%S}"
