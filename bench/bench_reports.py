"""Staff report queries on a seeded year: every report for the last 30 and the last 365 days.

Each report is run ``BENCH_REPORTS_ITERATIONS`` times (20) in this process, one after another,
after two warm-up runs, through the same functions the admin pages call (``analytics.reports``),
so on the replica when ``DATABASE_REPLICA_URL`` is set. Target: every report under 1 s (p95).
Needs the benchmark catalog and its activity: ``make seed`` then ``make seed-analytics``.
Run: ``make bench NAME=reports`` or ``python bench/bench_reports.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import Result  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_REPORTS_ITERATIONS", "20"))
TARGET_MS = 1000.0
PERIODS = (30, 365)


def _measure(name: str, call: Callable[[], object]) -> Result:
    result = Result(name=name)
    for _ in range(2):  # warm: connections, plans, the replica's lag check
        call()
    started = time.perf_counter()
    for _ in range(ITERATIONS):
        began = time.perf_counter()
        try:
            call()
        except Exception:  # noqa: BLE001 - counted, not fatal: the figures say how many failed
            result.errors += 1
            continue
        result.latencies_ms.append((time.perf_counter() - began) * 1000)
        result.statuses[200] = result.statuses.get(200, 0) + 1
    result.elapsed_s = time.perf_counter() - started
    p95 = result.percentile(0.95)
    verdict = "ok" if p95 < TARGET_MS else "MISSED"
    result.notes.append(f"  target p95 < {TARGET_MS:.0f} ms: {verdict}")
    return result


def run(base_url: str = "") -> list[Result]:
    """Measure every report over both periods (``base_url`` is unused: this runs in-process)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    import django

    django.setup()
    from django.utils import timezone

    from analytics import reports
    from analytics.models import SiteDay
    from cloudshelf.db_router import is_replica_in_use, read_alias, reads_from_replica

    if SiteDay.objects.count() < 300:
        raise SystemExit("the benchmark needs a seeded year of activity: run `make seed-analytics`")
    with reads_from_replica():
        where = read_alias() if is_replica_in_use() else "default (no replica configured)"
    today = timezone.localdate()
    results = []
    for days in PERIODS:
        start, end = today - timedelta(days=days - 1), today
        calls: dict[str, Callable[[], object]] = {
            "sales_over_time day": partial(reports.sales_over_time, start=start, end=end),
            "sales_over_time week": partial(reports.sales_over_time, start=start, end=end, grain="week"),
            "sales_by_category": partial(reports.sales_by_category, start=start, end=end),
            "top_sellers": partial(reports.top_sellers, start=start, end=end),
            "top_searches": partial(reports.top_searches, start=start, end=end),
            "zero_result_searches": partial(reports.zero_result_searches, start=start, end=end),
            "funnel": partial(reports.funnel, start=start, end=end),
            "funnel_by_day": partial(reports.funnel_by_day, start=start, end=end),
            "low_stock": partial(reports.low_stock, start=start, end=end),
        }
        for name, call in calls.items():
            results.append(_measure(f"reports: {name} {days}d", call))
    for result in results:
        result.notes.append(f"  in-process, sequential, {ITERATIONS} runs; database: {where}")
    return results


if __name__ == "__main__":
    for measured in run():
        print(measured.summary_line())
        print("\n".join(measured.notes + [f"FAIL: {problem}" for problem in measured.problems]))
