"""Real users' page timings as percentiles, for the performance report page.

One statement per call: ``percentile_cont`` of every metric per route class over the
beacons received since ``since``, read on the replica (``reads_from_replica``) through
the ``(route_class, received_at)`` index. Without Postgres (the embedded default's SQLite,
which has no ``percentile_cont``) the same interpolation runs in Python.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.db import connections, router

from analytics.metrics.store import RoutePercentiles
from analytics.models import RumBeacon
from cloudshelf.db_router import reads_from_replica

# Metric name -> column. ``cls`` is unitless; it shares RoutePercentiles' ``_ms`` fields.
METRIC_COLUMNS = {
    "ttfb": "ttfb_ms",
    "dom_ready": "dom_ready_ms",
    "load": "load_ms",
    "lcp": "lcp_ms",
    "inp": "inp_ms",
    "cls": "cls",
}
FRACTIONS = (0.5, 0.95, 0.99)
# (route class, metric, values counted, [p50, p95, p99] or None when none counted)
Row = tuple[str, str, int, list[float | None] | None]


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """Postgres's ``percentile_cont``: linear interpolation between the two nearest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def _postgres_rows(alias: str, since: datetime) -> list[Row]:
    """(route class, metric, count, [p50, p95, p99]) for every class and metric, in one statement."""
    table = RumBeacon._meta.db_table
    metrics = ", ".join(
        f"count({column}), percentile_cont(ARRAY[{', '.join(map(str, FRACTIONS))}]) WITHIN GROUP (ORDER BY {column})"
        for column in METRIC_COLUMNS.values()
    )
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"SELECT route_class, {metrics} FROM {table} WHERE received_at >= %s GROUP BY route_class", [since]
        )
        raw = cursor.fetchall()
    rows: list[Row] = []
    for route_class, *values in raw:
        for index, metric in enumerate(METRIC_COLUMNS):
            rows.append((route_class, metric, values[2 * index], values[2 * index + 1]))
    return rows


def _python_rows(alias: str, since: datetime) -> list[Row]:
    """The same rows, computed in Python (SQLite)."""
    values: dict[tuple[str, str], list[float]] = defaultdict(list)
    classes = set()
    columns = list(METRIC_COLUMNS.values())
    for route_class, *measured in (
        RumBeacon.objects.using(alias).filter(received_at__gte=since).values_list("route_class", *columns).iterator()
    ):
        classes.add(route_class)
        for metric, value in zip(METRIC_COLUMNS, measured, strict=True):
            if value is not None:
                values[route_class, metric].append(value)
    rows: list[Row] = []
    for route_class in classes:
        for metric in METRIC_COLUMNS:
            found = values[route_class, metric]
            percentiles = [percentile_cont(found, fraction) for fraction in FRACTIONS] if found else None
            rows.append((route_class, metric, len(found), percentiles))
    return rows


def rum_percentiles(*, since: datetime) -> dict[str, dict[str, RoutePercentiles]]:
    """Route class -> metric (``ttfb dom_ready load lcp inp cls``) -> p50/p95/p99 of beacons since ``since``.

    Only classes with beacons appear; a metric no beacon of a class measured has count 0
    and ``None`` percentiles. ``errors`` is always 0: a beacon has no status.
    """
    with reads_from_replica():
        alias = router.db_for_read(RumBeacon)
        is_postgres = connections[alias].vendor == "postgresql"
        rows = _postgres_rows(alias, since) if is_postgres else _python_rows(alias, since)
    result: dict[str, dict[str, RoutePercentiles]] = {}
    for route_class, metric, count, percentiles in sorted(rows, key=lambda row: row[0]):
        p50, p95, p99 = percentiles if percentiles else (None, None, None)
        result.setdefault(route_class, {})[metric] = RoutePercentiles(
            route_class=route_class, count=count, errors=0, p50_ms=p50, p95_ms=p95, p99_ms=p99
        )
    return result
