"""bench/bench_pages.py: popularity draws, the HTTP cache's hit rate, and a closed-loop run's line."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from bench.bench_pages import ANONYMOUS_PAGE, PageRun, hit_rate, zipf_picker
from bench.wrk import parse_wrk_output

REPORT = """bench-wrk summary requests=30000 duration_us=20000000 bytes=1 connect=0 read=0 write=0 status=0 timeout=0
bench-wrk latency_us mean=9000 max=60000 p50=8000 p90=15000 p95=20000 p99=40000
bench-wrk status 200 30000
bench-wrk header x-page-cache\thit\t29900
bench-wrk header x-page-cache\tmiss\t100
"""


def test_popular_urls_are_drawn_more_often_in_zipf_proportion():
    draw = zipf_picker(["/a", "/b", "/c", "/d"], random.Random(1))
    counts = Counter(draw() for _ in range(20000))
    assert counts["/a"] > counts["/b"] > counts["/c"] > counts["/d"]
    assert counts["/a"] / counts["/b"] == pytest.approx(2.0, rel=0.1)


def test_a_zipf_draw_needs_urls():
    with pytest.raises(ValueError, match="no URLs"):
        zipf_picker([], random.Random(1))


def test_the_hit_rate_counts_what_nginx_answered_without_gunicorn():
    assert hit_rate({"HIT": 60, "STALE": 5, "UPDATING": 5, "MISS": 20, "EXPIRED": 5, "REVALIDATED": 5}) == 0.7
    assert hit_rate({"hit": 1, "miss": 1}) == 0.5


def test_the_hit_rate_of_no_answers_is_not_a_number():
    assert math.isnan(hit_rate({}))


def test_a_page_run_line_has_rate_ratio_latencies_cache_states_and_verdict():
    run = PageRun("pages: home", parse_wrk_output(REPORT), ANONYMOUS_PAGE, floor_rate=2000)
    line = run.summary_line()
    assert "1500.0 req/s (0.75x /health)" in line
    assert "p50=  8.00 p95= 20.00 p99= 40.00 ms" in line
    assert "errors=0 non-2xx=0" in line
    assert "X-Page-Cache hit:29900 miss:100" in line
    assert line.endswith("PASS (≥ 1,000 req/s, p99 < 50 ms)")


def test_a_page_run_with_failed_answers_fails_however_fast():
    report = parse_wrk_output(REPORT.replace("status 200 30000", "status 200 29000\nbench-wrk status 500 1000"))
    assert (
        PageRun("pages: home", report, ANONYMOUS_PAGE, floor_rate=2000)
        .summary_line()
        .endswith("1000 failed answer(s))")
    )
