"""The running totals in Prometheus text format, through prometheus-client's own exposition.

Why totals in Redis rather than the library's multiprocess mode: that mode shares metrics
between the processes of *one* host through files in ``PROMETHEUS_MULTIPROC_DIR``, so each
host (and each Lambda instance, which nobody can scrape) would answer only for itself. The
totals every process already adds to Redis on its flush (``store``) are the whole fleet's, so
any node answers ``/metrics`` for all of them and a scrape of one load-balanced URL suffices.
Counters are cumulative since the store's key was created (a reset shows as a drop, which
Prometheus's ``rate()`` handles as a counter reset).

The circuit breakers (``cloudshelf.breaker``) are read at scrape time, all in one ``MGET``:
``cloudshelf_circuit_breaker_state{breaker=...}`` (0 closed, 1 half-open, 2 open) and
``cloudshelf_circuit_breaker_trips_total`` (how often each opened from closed).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from analytics.metrics.store import PROMETHEUS_BUCKETS_S
from cloudshelf.breaker import STATE_VALUES, breaker_states
from cloudshelf.features.selectors import feature_states
from cloudshelf.features.shedding import monitor


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

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
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
        yield from _feature_gauges()
        yield from _breaker_families()


def _feature_gauges() -> Iterator[GaugeMetricFamily]:
    """Load shedding (1 while the fleet sheds) and each non-essential feature's state (cloudshelf.features)."""
    yield GaugeMetricFamily(
        "cloudshelf_load_shedding",
        "1 while non-essential features are switched off by overload.",
        value=1 if monitor.is_shedding() else 0,
    )
    enabled = GaugeMetricFamily(
        "cloudshelf_feature_enabled", "1 when a non-essential feature is shown.", labels=["feature"]
    )
    for state in feature_states():
        enabled.add_metric([state.feature.name], 1 if state.is_enabled else 0)
    yield enabled


def _breaker_families() -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    """Each circuit breaker's state and trips, from one ``MGET`` of them all (cloudshelf.breaker)."""
    states = GaugeMetricFamily(
        "cloudshelf_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["breaker"]
    )
    trips = CounterMetricFamily(
        "cloudshelf_circuit_breaker_trips", "Times the circuit breaker opened from closed.", labels=["breaker"]
    )
    for reading in breaker_states():
        states.add_metric([reading.name], STATE_VALUES[reading.state])
        trips.add_metric([reading.name], reading.trips)
    yield from (states, trips)


def registry_of(totals: dict[str, float]) -> CollectorRegistry:
    """A registry holding only the totals (none of the library's process or platform collectors)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TotalsCollector(totals))
    return registry
