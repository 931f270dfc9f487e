"""bench/bench_search.py: the benchmark stops at the first run OpenSearch did not answer."""

from __future__ import annotations

import pytest

from bench.bench_search import _checked, _Spoiled
from bench.checks import target_note
from bench.loadgen import Result
from bench.targets import Target


def test_a_valid_run_is_kept_and_the_benchmark_goes_on():
    results: list[Result] = []
    run = Result(name="search: autocomplete")
    assert _checked(results, run) is run
    assert results == [run]


def test_a_spoiled_run_is_kept_with_a_note_and_stops_the_rest():
    results: list[Result] = []
    run = Result(name="search: autocomplete", problems=["search: autocomplete: the search breaker went open"])
    with pytest.raises(_Spoiled):
        _checked(results, run)
    assert results == [run]
    assert run.notes == ["  stopped here: the remaining search runs would not measure OpenSearch"]


def test_a_designed_404_does_not_fail_a_latency_target_but_a_500_does():
    run = Result(name="search", latencies_ms=[5.0] * 100, statuses={200: 97, 404: 3}, elapsed_s=1.0)
    assert target_note(run, Target(max_p95_ms=50)) == "  PASS (p95 < 50 ms)"
    run.statuses[500] = 1
    assert target_note(run, Target(max_p95_ms=50)) == "  FAIL (p95 < 50 ms: 1 failed answer(s))"
