"""Targets the benchmarks check, and the PASS/FAIL line each prints.

A target is a floor on throughput and/or ceilings on latency percentiles. A missed target is
a *result* (printed as FAIL, the run still counts); a run that is not a valid measurement
(a breaker opened, the fallback answered, errors) is a *problem* (``bench/checks.py``) and
makes ``make bench`` exit non-zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """``min_rate`` in requests/s; ``max_p95_ms``/``max_p99_ms`` in milliseconds; ``None``: not a target."""

    min_rate: float | None = None
    max_p95_ms: float | None = None
    max_p99_ms: float | None = None

    def describe(self) -> str:
        parts = []
        if self.min_rate is not None:
            parts.append(f"≥ {self.min_rate:,.0f} req/s")
        if self.max_p95_ms is not None:
            parts.append(f"p95 < {self.max_p95_ms:g} ms")
        if self.max_p99_ms is not None:
            parts.append(f"p99 < {self.max_p99_ms:g} ms")
        return ", ".join(parts) or "no target"

    def misses(self, *, rate: float, p95_ms: float, p99_ms: float) -> list[str]:
        """What fell short, e.g. ``["612 req/s < 1,000"]``; ``[]`` when every part is met.

        A percentile that could not be measured (NaN: no answers) misses its target.
        """
        found = []
        if self.min_rate is not None and not rate >= self.min_rate:
            found.append(f"{rate:,.0f} req/s < {self.min_rate:,.0f}")
        if self.max_p95_ms is not None and not (p95_ms < self.max_p95_ms):
            found.append(f"p95 {_ms(p95_ms)} ≥ {self.max_p95_ms:g} ms")
        if self.max_p99_ms is not None and not (p99_ms < self.max_p99_ms):
            found.append(f"p99 {_ms(p99_ms)} ≥ {self.max_p99_ms:g} ms")
        return found

    def verdict(self, *, rate: float, p95_ms: float, p99_ms: float, problems: int = 0) -> str:
        """``PASS (≥ 1,000 req/s, p99 < 50 ms)`` or ``FAIL (...: 612 req/s < 1,000)``."""
        misses = self.misses(rate=rate, p95_ms=p95_ms, p99_ms=p99_ms)
        if problems:
            misses.append(f"{problems} failed answer(s)")
        if not misses:
            return f"PASS ({self.describe()})"
        return f"FAIL ({self.describe()}: {'; '.join(misses)})"


def ratio_verdict(ratio: float, maximum: float) -> str:
    """``PASS (2.7x ≤ 4x)`` / ``FAIL (5.1x > 4x)`` for a cost ratio."""
    if math.isnan(ratio):
        return f"FAIL (not measured; target ≤ {maximum:g}x)"
    if ratio <= maximum:
        return f"PASS ({ratio:.1f}x ≤ {maximum:g}x)"
    return f"FAIL ({ratio:.1f}x > {maximum:g}x)"


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms"
