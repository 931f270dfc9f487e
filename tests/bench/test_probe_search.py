"""bench/probe_search.py: one search at a time per backend, summarised by percentiles and matches."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.probe_search import describe, measure


def test_the_summary_gives_percentiles_and_how_many_books_matched():
    latencies_ms = [float(value) for value in range(1, 101)]

    line = describe("opensearch", latencies_ms, [10, 250, 52_000])

    assert line == (
        "opensearch: n=100 p50=51.0 ms p95=96.0 ms p99=100.0 ms max=100.0 ms; matches median 250, max 52,000"
    )


@pytest.mark.django_db
def test_each_query_is_asked_once_as_the_results_page_asks_it():
    asked = []

    def search(spec):
        asked.append((spec.query, spec.page))
        return SimpleNamespace(total=len(spec.query))

    latencies_ms, matches = measure(search, ["crimson keeper", "Ann Lee"])

    assert asked == [("crimson keeper", 1), ("Ann Lee", 1)]
    assert matches == [14, 7]
    assert len(latencies_ms) == 2
