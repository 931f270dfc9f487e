"""bench/loadtest_report.py: the criteria judged from Artillery's JSON, and the self-contained report."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from bench import loadtest_report
from bench.loadtest_report import Evaluation

FIXTURE = Path(__file__).with_name("smoke-artillery.json")
P = "plugins.metrics-by-endpoint."


def _summary(p50: float, p95: float, p99: float) -> dict[str, float]:
    return {"min": 1, "max": p99, "count": 10, "p50": p50, "median": p50, "p95": p95, "p99": p99}


def _raw(counters: dict[str, int], summaries: dict[str, dict[str, float]]) -> dict:
    period = {
        "counters": counters,
        "summaries": summaries,
        "period": "1796265470000",
        "firstMetricAt": 1796265470000,
        "lastMetricAt": 1796265479999,
    }
    return {"aggregate": dict(period), "intermediate": [period]}


def _passing_counters() -> dict[str, int]:
    return {
        f"{P}page: book.codes.200": 2000,
        f"{P}search.codes.200": 1000,
        f"{P}cart: add.codes.200": 1000,
        f"{P}api: books.codes.200": 200,
        "vusers.created_by_name.browse_books": 40,
        "vusers.completed": 40,
        "vusers.failed": 0,
        "cloudshelf.cache.hit": 30,
        "cloudshelf.cache.miss": 10,
    }


def _passing_summaries() -> dict[str, dict[str, float]]:
    return {
        f"{P}response_time.page: book": _summary(20, 40, 90),
        f"{P}response_time.search": _summary(30, 120, 300),
        f"{P}response_time.cart: add": _summary(8, 14, 40),
        f"{P}response_time.api: books": _summary(10, 25, 60),
    }


def test_a_run_within_every_criterion_passes():
    evaluation = loadtest_report.evaluate(_raw(_passing_counters(), _passing_summaries()))

    assert evaluation.passed
    assert [(v.subject, v.passed) for v in evaluation.verdicts] == [
        ("api: books", True),
        ("cart: add", True),
        ("page: book", True),
        ("search", True),
        ("all requests", True),
    ]
    assert (evaluation.requests, evaluation.succeeded, evaluation.shed, evaluation.failed) == (4200, 4200, 0, 0)
    assert evaluation.cache_hit_percent == 75.0


def test_a_search_p95_at_the_ceiling_fails_its_criterion():
    summaries = _passing_summaries() | {f"{P}response_time.search": _summary(30, 500, 700)}

    evaluation = loadtest_report.evaluate(_raw(_passing_counters(), summaries))

    assert not evaluation.passed
    failed = [v for v in evaluation.verdicts if not v.passed]
    assert [(v.subject, v.measured) for v in failed] == [("search", "p95 500 ms, success 100.00 % of 1,000")]


def test_one_failed_cart_add_in_a_thousand_fails_the_cart_criterion_but_not_pages():
    counters = _passing_counters() | {f"{P}cart: add.codes.200": 999, f"{P}cart: add.codes.500": 1}

    evaluation = loadtest_report.evaluate(_raw(counters, _passing_summaries()))

    verdicts = {v.subject: v for v in evaluation.verdicts}
    assert not verdicts["cart: add"].passed
    assert verdicts["cart: add"].measured == "p95 14.0 ms, success 99.90 % of 1,000"
    assert verdicts["page: book"].passed
    assert verdicts["all requests"].passed  # 4,199 of 4,200 is 99.98 %


def test_shed_answers_are_reported_apart_and_are_not_successes():
    counters = _passing_counters() | {
        f"{P}page: book.codes.200": 1990,
        f"{P}page: book.codes.503": 6,
        f"{P}page: book.codes.429": 4,
    }

    evaluation = loadtest_report.evaluate(_raw(counters, _passing_summaries()))

    assert (evaluation.requests, evaluation.succeeded, evaluation.shed, evaluation.failed) == (4200, 4190, 10, 0)
    overall = evaluation.verdicts[-1]
    assert overall.measured == "99.76 % of 4,200 (shed 429/503: 10; failed: 0)"
    assert not overall.passed
    assert evaluation.endpoints["page: book"].shed == 10


def test_requests_that_got_no_answer_are_failures():
    counters = _passing_counters() | {f"{P}search.errors.ETIMEDOUT": 4, f"{P}search.errors.ECONNREFUSED": 2}

    evaluation = loadtest_report.evaluate(_raw(counters, _passing_summaries()))

    search = evaluation.endpoints["search"]
    assert (search.requests, search.succeeded, search.failed) == (1006, 1000, 6)
    assert search.errors == {"ETIMEDOUT": 4, "ECONNREFUSED": 2}
    assert not {v.subject: v for v in evaluation.verdicts}["search"].passed


def test_a_request_name_outside_the_known_groups_fails_rather_than_passing_unjudged():
    counters = _passing_counters() | {f"{P}checkout.codes.200": 5}

    evaluation = loadtest_report.evaluate(_raw(counters, _passing_summaries()))

    assert {v.subject: v.passed for v in evaluation.verdicts}["checkout"] is False


def test_a_run_with_no_requests_fails():
    evaluation = loadtest_report.evaluate({"aggregate": {}, "intermediate": []})

    assert not evaluation.passed
    assert evaluation.verdicts[-1].measured == "n/a of 0 (shed 429/503: 0; failed: 0)"
    assert math.isnan(evaluation.cache_hit_percent)


def test_the_tighter_targets_are_information_naming_the_slowest_kind():
    evaluation = loadtest_report.evaluate(_raw(_passing_counters(), _passing_summaries()))

    assert evaluation.information == [
        "page: slowest p95 40.0 ms (page: book) vs p95 < 50 ms (issue 2: book, author and browse pages): met",
        "search: slowest p95 120 ms (search) vs p95 < 50 ms (issue 4: results page with facets): missed",
        "cart: slowest p95 14.0 ms (cart: add) vs p95 < 15 ms (issue 3: add / set / remove): met",
        "api: slowest p95 25.0 ms (api: books) vs p95 < 30 ms (issue 5: book list and detail): met",
    ]
    assert evaluation.passed  # information never fails a run


def test_the_verdict_table_lists_every_verdict_and_ends_with_the_verdict():
    table = loadtest_report.verdict_table(loadtest_report.evaluate(_raw(_passing_counters(), _passing_summaries())))

    lines = table.splitlines()
    assert lines[1].split()[:4] == ["PASS", "api:", "books", "API"]
    assert "HTTP cache (X-Cache-Status): hit 30, miss 10; hit rate 75.00 %" in lines
    assert lines[-1] == "verdict: PASS"


def _recorded() -> tuple[dict, Evaluation]:
    raw = json.loads(FIXTURE.read_text())
    return raw, loadtest_report.evaluate(raw)


def test_the_recorded_smoke_run_is_judged_on_every_group_and_passes():
    raw, evaluation = _recorded()

    groups = {loadtest_report.group_of(name) for name in evaluation.endpoints}
    assert groups == {"page", "search", "cart", "api"}
    assert evaluation.requests == raw["aggregate"]["counters"]["http.requests"]
    assert evaluation.passed, loadtest_report.verdict_table(evaluation)


def test_the_report_is_self_contained_with_charts_per_group_and_the_table():
    raw, evaluation = _recorded()

    page = loadtest_report.render_report(raw=raw, evaluation=evaluation, title="smoke")

    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 8  # latency and throughput for each of the four groups
    assert page.count("<polyline") >= 8
    assert "<table>" in page
    assert "Verdict: PASS" in page
    for group in ("page", "search", "cart", "api"):
        assert f"{group}: response time" in page
        assert f"{group}: throughput" in page
    # Nothing fetched from elsewhere: no script, no stylesheet link, no remote source.
    assert "<script" not in page
    assert "<link" not in page
    assert re.findall(r'(?:src|href)="', page) == []
    assert "http://www.w3.org/2000/svg" in page  # the SVG namespace, not a fetch


def test_hostile_request_names_are_escaped_in_the_report():
    counters = _passing_counters() | {f"{P}page: <script>alert(1)</script>.codes.200": 1}

    raw = _raw(counters, _passing_summaries())
    page = loadtest_report.render_report(raw=raw, evaluation=loadtest_report.evaluate(raw), title="<b>x</b>")

    assert "<script>" not in page
    assert "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 1.0), (0.4, 1.0), (7, 10.0), (130, 200.0), (450, 500.0), (1000, 1000.0)]
)
def test_chart_axes_end_on_a_round_number(value, expected):
    assert loadtest_report._nice_ceiling(value) == expected


def test_a_form_answered_with_the_form_again_instead_of_its_redirect_is_a_failure():
    counters = _passing_counters() | {
        f"{P}page: log in.codes.302": 90,
        f"{P}page: log in.codes.200": 10,
        "cloudshelf.unexpected.page: log in": 10,
    }

    evaluation = loadtest_report.evaluate(_raw(counters, _passing_summaries()))

    login = evaluation.endpoints["page: log in"]
    assert (login.requests, login.succeeded, login.failed) == (100, 90, 10)
    assert not {v.subject: v for v in evaluation.verdicts}["page: log in"].passed
