"""bench/checks.py: a run that a breaker or the fallback touched is not a measurement of OpenSearch."""

from __future__ import annotations

import time

import pytest

from bench.checks import (
    BreakerLog,
    BreakerReading,
    observe_backend,
    read_breaker,
    verify_search_run,
    watch_breaker,
)
from bench.loadgen import ABSENT, Request, Result
from search.breaker import opensearch_breaker

CLOSED_READING = BreakerReading(state="closed", failures=0)


def _result(**backends: int) -> Result:
    result = Result(name="search: results")
    result.seen["backend"] = dict(backends)
    return result


def test_a_run_the_breaker_never_left_closed_has_no_problem():
    log = BreakerLog(before=CLOSED_READING, after=CLOSED_READING)
    log.record(CLOSED_READING)
    assert log.problems("run") == []


def test_a_breaker_that_opened_during_the_run_is_a_problem_even_if_it_closed_again():
    log = BreakerLog(before=CLOSED_READING, after=CLOSED_READING)
    for state in ("closed", "open", "half-open", "closed"):
        log.record(BreakerReading(state=state, failures=0))
    assert log.problems("run") == ["run: the search breaker went half-open/open during the run"]


def test_a_breaker_open_before_the_run_is_a_problem():
    log = BreakerLog(before=BreakerReading(state="open", failures=0))
    log.record(log.before)
    assert log.problems("run")[0] == "run: the search breaker was open before the run started"


def test_counted_failures_are_a_problem_though_the_breaker_stayed_closed():
    log = BreakerLog(before=CLOSED_READING)
    log.record(BreakerReading(state="closed", failures=2))
    assert log.problems("run") == [
        "run: OpenSearch failed 2 time(s) in a row during the run"
        " (each such search was answered by the database fallback)"
    ]


def test_the_watch_polls_during_the_block_and_reads_before_and_after():
    readings = iter([CLOSED_READING, BreakerReading("open", 0)] + [CLOSED_READING] * 100)
    with watch_breaker(read=lambda: next(readings), interval_s=0.01) as log:
        time.sleep(0.1)
    assert log.before == CLOSED_READING
    assert log.after == CLOSED_READING
    assert "open" in log.states_seen


def test_a_breaker_that_cannot_be_read_is_a_problem():
    def unreadable() -> BreakerReading:
        raise ConnectionError("redis down")

    with watch_breaker(read=unreadable, interval_s=0.01) as log:
        pass
    assert log.problems("run") == ["run: could not read the breaker state: ConnectionError: redis down"]


@pytest.mark.django_db
def test_it_reads_the_real_breaker_in_redis(settings):
    settings.SEARCH_BREAKER_COOLDOWN = 30
    opensearch_breaker.reset()
    assert read_breaker() == CLOSED_READING
    opensearch_breaker.trip()
    try:
        assert read_breaker() == BreakerReading(state="open", failures=0)
    finally:
        opensearch_breaker.reset()


def test_a_fallback_answer_in_a_run_meant_for_opensearch_is_a_problem():
    result = verify_search_run(_result(opensearch=990, database=10), BreakerLog(), expected="opensearch")
    assert result.problems == ["search: results: meant for opensearch, but 10 by database"]


def test_an_opensearch_answer_in_the_fallback_run_is_a_problem():
    result = verify_search_run(_result(database=90, opensearch=1), BreakerLog(), expected="database")
    assert result.problems == ["search: results: meant for database, but 1 by opensearch"]


def test_the_fallback_run_ignores_the_breaker_it_opened_on_purpose():
    log = BreakerLog(before=BreakerReading(state="open", failures=0))
    log.record(log.before)
    assert verify_search_run(_result(database=50), log, expected="database").problems == []


def test_answers_that_do_not_say_their_backend_are_noted_not_failed():
    result = verify_search_run(_result(opensearch=5, **{ABSENT: 7}), BreakerLog(), expected="opensearch")
    assert result.problems == []
    assert result.notes == ["  note: 7 answer(s) did not say which search backend answered (no X-Search-Backend)"]


def test_the_backend_comes_from_the_header_first():
    observed = observe_backend(Request("/search/?q=x"), 200, {"x-search-backend": "database"}, b"")
    assert observed["backend"] == "database"
    assert observed["x-search-backend"] == "database"


def test_the_backend_comes_from_the_api_json_otherwise():
    body = b'{"backend": "opensearch", "results": []}'
    observed = observe_backend(Request("/api/v1/search/"), 200, {"content-type": "application/json"}, body)
    assert observed["backend"] == "opensearch"


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'{"backend": 7}', b'{"backend": ""}', b'{"results": []}', b"\xff\xfe"],
)
def test_a_body_that_does_not_say_leaves_the_backend_unknown(body):
    observed = observe_backend(Request("/api/v1/search/"), 200, {"content-type": "application/json"}, body)
    assert observed["backend"] == ABSENT


def test_html_is_not_read_for_a_backend():
    observed = observe_backend(Request("/"), 200, {"content-type": "text/html"}, b'{"backend": "database"}')
    assert observed["backend"] == ABSENT


def test_the_breaker_note_says_its_state_before_and_after_and_what_it_went_through():
    from bench.checks import breaker_note

    quiet = BreakerLog(before=CLOSED_READING, after=CLOSED_READING, states_seen={"closed"})
    tripped = BreakerLog(before=CLOSED_READING, after=BreakerReading("open", 0), states_seen={"closed", "open"})

    assert breaker_note(quiet) == "  breaker: closed before, closed after"
    assert breaker_note(tripped) == "  breaker: closed before, open after (open during the run)"
    assert breaker_note(BreakerLog()) == "  breaker: unknown before, unknown after"
