"""bench/targets.py: PASS/FAIL against a target."""

from __future__ import annotations

import math

from bench.targets import Target, ratio_verdict

PAGE = Target(min_rate=1000, max_p99_ms=50)


def test_a_run_that_meets_every_part_passes():
    assert PAGE.verdict(rate=1200, p95_ms=20, p99_ms=49.9) == "PASS (≥ 1,000 req/s, p99 < 50 ms)"


def test_each_missed_part_is_named():
    verdict = PAGE.verdict(rate=612, p95_ms=20, p99_ms=80)
    assert verdict == "FAIL (≥ 1,000 req/s, p99 < 50 ms: 612 req/s < 1,000; p99 80.0 ms ≥ 50 ms)"


def test_a_latency_ceiling_is_exclusive():
    assert Target(max_p95_ms=30).misses(rate=50, p95_ms=30.0, p99_ms=0) == ["p95 30.0 ms ≥ 30 ms"]


def test_an_unmeasured_percentile_misses_its_target():
    assert Target(max_p95_ms=30).misses(rate=0, p95_ms=math.nan, p99_ms=math.nan) == ["p95 n/a ≥ 30 ms"]


def test_failed_answers_fail_a_run_that_is_fast_enough():
    assert PAGE.verdict(rate=5000, p95_ms=1, p99_ms=2, problems=3).endswith("3 failed answer(s))")


def test_a_target_with_no_parts_describes_itself():
    assert Target().describe() == "no target"


def test_the_cost_ratio_passes_at_the_limit_and_fails_above_it():
    assert ratio_verdict(4.0, 4) == "PASS (4.0x ≤ 4x)"
    assert ratio_verdict(4.3, 4) == "FAIL (4.3x > 4x)"
    assert ratio_verdict(math.nan, 4).startswith("FAIL (not measured")
