"""bench/bench_search.py: the benchmark stops at the first run OpenSearch did not answer; never-asked
searches are all different and none is answered by a kept page."""

from __future__ import annotations

import random

import pytest

from bench.bench_search import _checked, _Spoiled
from bench.checks import target_note
from bench.loadgen import ABSENT, Result
from bench.targets import Target
from tests.factories import AuthorFactory, BookFactory


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


def test_a_never_asked_query_is_title_words_an_author_or_both():
    from bench.bench_search import _never_asked_query

    title, author = "The Crimson Keeper of Valparaíso", "Eliza Takahashi"
    queries = {_never_asked_query(random.Random(seed), title, author) for seed in range(200)}

    assert queries == {
        "crimson keeper",
        "keeper valparaíso",
        "Eliza Takahashi",
        "crimson takahashi",
        "keeper takahashi",
        "valparaíso takahashi",
        title,
    }


@pytest.mark.django_db
def test_never_asked_searches_are_all_different_results_pages_and_a_seed_repeats_them():
    from bench.bench_search import _never_asked_sample

    for index in range(60):
        BookFactory(title=f"Garden {index} of Winter Stone", authors=[AuthorFactory(name=f"Author Number{index}")])

    searches = _never_asked_sample(40, seed=7)

    assert len(searches) == 40
    assert len({url.casefold() for url in searches}) == 40
    assert all(url.startswith("/search/?q=") for url in searches)
    assert _never_asked_sample(40, seed=7) == searches


@pytest.mark.django_db
def test_a_catalog_too_small_for_different_searches_stops_the_benchmark():
    from bench.bench_search import _never_asked_sample

    BookFactory(title="Stone", authors=[AuthorFactory(name="Ann Lee")])

    with pytest.raises(SystemExit, match="could not draw 10 different searches"):
        _never_asked_sample(10, seed=1)


def test_a_never_asked_search_answered_by_a_kept_page_is_a_problem():
    from bench.bench_search import _kept_page_problems

    fresh = Result(name="never-asked", seen={"x-page-cache": {"miss": 90, ABSENT: 10}})
    kept = Result(name="never-asked", seen={"x-page-cache": {"miss": 98, "hit": 2}})

    assert _kept_page_problems(fresh) == []
    assert _kept_page_problems(kept) == ["never-asked: 2 answer(s) came from a kept page ({'miss': 98, 'hit': 2})"]
