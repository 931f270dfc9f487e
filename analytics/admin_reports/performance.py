"""The performance page's figures: p50/p95/p99 per route class against the four service levels.

Two sources, two windows. The server's own timings (``analytics.metrics.store``, Redis) are
judged per route class against its level: page 2 s, search 500 ms, cart 200 ms, API 1 s.
Real users' beacons (``analytics.rum``, Postgres on the replica) are judged twice: the
page's full load against the page-load level (2 s, whatever kind of page it was: that is
the level a shopper feels), and its time to first byte against its class's own level (the
server's answer as the browser saw it, network included). Other browser measures (DOM
ready, LCP, INP, CLS) are shown without a verdict: the architecture sets no level for them.

A level is stated for the p95, so the p95 is what is marked met or missed; p50 and p99 are
there to show the shape.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from analytics.metrics.classify import ROUTE_CLASSES, SERVICE_LEVELS_MS
from analytics.metrics.store import RoutePercentiles, server_percentiles
from analytics.rum.selectors import rum_percentiles

WINDOWS = (("Last hour", 60), ("Last day", 1440))
PAGE_LOAD_LEVEL_MS = SERVICE_LEVELS_MS["page"]
# Browser measures in the order shown, with their names on the page.
RUM_METRICS = (
    ("load", "Page load"),
    ("ttfb", "Time to first byte"),
    ("dom_ready", "DOM ready"),
    ("lcp", "Largest contentful paint"),
    ("inp", "Interaction to next paint"),
    ("cls", "Cumulative layout shift"),
)
UNITLESS_METRICS = frozenset({"cls"})


@dataclass(frozen=True)
class LevelRow:
    """One judged (or merely shown) line of the performance page."""

    route_class: str
    measure: str  # "Server response", "Page load", ...
    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    level_ms: int | None  # None: no service level for this line
    is_unitless: bool = False

    @property
    def short_measure(self) -> str:
        """The measure in a chart's label: "load", "first byte"."""
        return {"Page load": "load", "Time to first byte": "first byte"}.get(self.measure, self.measure.lower())

    @property
    def figures(self) -> tuple[str, str, str]:
        """p50, p95 and p99 as shown: whole milliseconds, or three places for a unitless score."""
        return tuple(  # type: ignore[return-value]
            "\N{EN DASH}" if value is None else (f"{value:.3f}" if self.is_unitless else f"{value:,.0f} ms")
            for value in (self.p50, self.p95, self.p99)
        )

    @property
    def is_met(self) -> bool | None:
        """True when the p95 is within the level; None when there is no level or no data."""
        if self.level_ms is None or self.p95 is None:
            return None
        return self.p95 <= self.level_ms


@dataclass(frozen=True)
class PerformanceWindow:
    title: str
    minutes: int
    server: tuple[LevelRow, ...]
    real_users: tuple[LevelRow, ...]

    @property
    def has_server_data(self) -> bool:
        return any(row.count for row in self.server)


def server_rows(percentiles: dict[str, RoutePercentiles]) -> tuple[LevelRow, ...]:
    """Every route class, the four with a service level first (in the architecture's order)."""
    ordered = [*SERVICE_LEVELS_MS, *(name for name in ROUTE_CLASSES if name not in SERVICE_LEVELS_MS)]
    rows = []
    for route_class in ordered:
        found = percentiles.get(route_class)
        rows.append(
            LevelRow(
                route_class=route_class,
                measure="Server response",
                count=found.count if found else 0,
                p50=found.p50_ms if found else None,
                p95=found.p95_ms if found else None,
                p99=found.p99_ms if found else None,
                level_ms=SERVICE_LEVELS_MS.get(route_class),
            )
        )
    return tuple(rows)


def _rum_level(route_class: str, metric: str) -> int | None:
    if metric == "load":
        return PAGE_LOAD_LEVEL_MS
    if metric == "ttfb":
        return SERVICE_LEVELS_MS.get(route_class)
    return None


def real_user_rows(percentiles: dict[str, dict[str, RoutePercentiles]]) -> tuple[LevelRow, ...]:
    """Each route class real users loaded, each measure some browser reported (count > 0)."""
    rows = []
    for route_class in sorted(percentiles, key=lambda name: (name not in SERVICE_LEVELS_MS, name)):
        for metric, measure in RUM_METRICS:
            found = percentiles[route_class].get(metric)
            if found is None or not found.count:
                continue
            rows.append(
                LevelRow(
                    route_class=route_class,
                    measure=measure,
                    count=found.count,
                    p50=found.p50_ms,
                    p95=found.p95_ms,
                    p99=found.p99_ms,
                    level_ms=_rum_level(route_class, metric),
                    is_unitless=metric in UNITLESS_METRICS,
                )
            )
    return tuple(rows)


def performance_windows(*, now: float | None = None) -> tuple[PerformanceWindow, ...]:
    """The last hour and the last day, each from the server's store and from real users' beacons."""
    at = time.time() if now is None else now
    windows = []
    for title, minutes in WINDOWS:
        since = dt.datetime.fromtimestamp(at - minutes * 60, tz=dt.UTC)
        windows.append(
            PerformanceWindow(
                title=title,
                minutes=minutes,
                server=server_rows(server_percentiles(minutes=minutes, now=at)),
                real_users=real_user_rows(rum_percentiles(since=since)),
            )
        )
    return tuple(windows)
