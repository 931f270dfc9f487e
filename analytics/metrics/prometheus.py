"""The running totals in Prometheus text format, through prometheus-client's own exposition.

Why totals in Redis rather than the library's multiprocess mode: that mode shares metrics
between the processes of *one* host through files in ``PROMETHEUS_MULTIPROC_DIR``, so each
host (and each Lambda instance, which nobody can scrape) would answer only for itself. The
totals every process already adds to Redis on its flush (``store``) are the whole fleet's, so
any node answers ``/metrics`` for all of them and a scrape of one load-balanced URL suffices.
Counters are cumulative since the store's key was created (a reset shows as a drop, which
Prometheus's ``rate()`` handles as a counter reset).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from analytics.metrics.store import PROMETHEUS_BUCKETS_S


def _names(totals: dict[str, float], kind: str) -> list[str]:
    return sorted(
        {field.split(":", 2)[1] for field in totals if field.startswith(kind + ":") and field.count(":") == 2}
    )


def _histogram_buckets(totals: dict[str, float], prefix: str) -> list[tuple[str, float]]:
    cumulative = 0.0
    buckets = []
    for index, upper in enumerate(PROMETHEUS_BUCKETS_S):
        cumulative += totals.get(f"{prefix}:le{index}", 0.0)
        buckets.append((repr(upper), cumulative))
    cumulative += totals.get(f"{prefix}:le{len(PROMETHEUS_BUCKETS_S)}", 0.0)
    buckets.append(("+Inf", cumulative))
    return buckets


class TotalsCollector(Collector):
    """Yields request and task histograms and error counters from one read of the totals."""

    def __init__(self, totals: dict[str, float]) -> None:
        self.totals = totals

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        requests = HistogramMetricFamily(
            "cloudshelf_request_duration_seconds", "Request duration by route class.", labels=["route_class"]
        )
        request_errors = CounterMetricFamily(
            "cloudshelf_request_errors", "Requests answered with a 5xx status.", labels=["route_class"]
        )
        for name in _names(self.totals, "route"):
            prefix = f"route:{name}"
            requests.add_metric([name], _histogram_buckets(self.totals, prefix), self.totals.get(f"{prefix}:s", 0.0))
            request_errors.add_metric([name], self.totals.get(f"{prefix}:e", 0.0))
        tasks = HistogramMetricFamily("cloudshelf_task_duration_seconds", "Celery task run time.", labels=["task"])
        task_failures = CounterMetricFamily(
            "cloudshelf_task_failures", "Celery task runs that failed.", labels=["task"]
        )
        for name in _names(self.totals, "task"):
            prefix = f"task:{name}"
            tasks.add_metric([name], _histogram_buckets(self.totals, prefix), self.totals.get(f"{prefix}:s", 0.0))
            task_failures.add_metric([name], self.totals.get(f"{prefix}:e", 0.0))
        yield from (requests, request_errors, tasks, task_failures)


def registry_of(totals: dict[str, float]) -> CollectorRegistry:
    """A registry holding only the totals (none of the library's process or platform collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TotalsCollector(totals))
    return registry
