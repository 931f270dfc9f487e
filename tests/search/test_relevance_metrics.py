"""The relevance suite's metrics on hand-computed rankings, and its judgments loader refusing bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.relevance.judgments import DEFAULT_PATH, JudgmentsError, is_isbn13, load_judgments
from search.relevance.metrics import (
    aggregate,
    aggregate_by_kind,
    dcg,
    grades,
    ndcg,
    score_autocomplete,
    score_search,
)

A, B, C = "9781594480003", "9780441014897", "9781600964336"


def test_grades_are_three_two_then_one() -> None:
    assert grades([A, B, C, "x"]) == {A: 3, B: 2, C: 1, "x": 1}


def test_a_book_first_succeeds_everywhere() -> None:
    score = score_search(kind="title", query="q", expect=[A], ranked=[A, "x", "y"], titles=["Kite", "X", "Y"])

    assert (score.first_rank, score.success_at_1, score.success_at_k, score.reciprocal_rank) == (1, 1.0, 1.0, 1.0)
    assert score.ndcg_at_5 == 1.0
    assert score.top == ("Kite", "X", "Y")
    assert not score.is_miss


def test_a_book_second_is_a_success_at_three_and_still_a_miss() -> None:
    score = score_search(kind="title", query="q", expect=[A], ranked=["x", A, "y"])

    assert (score.first_rank, score.success_at_1, score.success_at_k, score.reciprocal_rank) == (2, 0.0, 1.0, 0.5)
    assert score.is_miss


def test_any_expected_book_counts_for_the_rank() -> None:
    score = score_search(kind="author", query="q", expect=[A, B], ranked=["x", "y", B, A])

    assert (score.first_rank, score.success_at_k) == (3, 1.0)
    assert score.reciprocal_rank == pytest.approx(1 / 3)


def test_a_book_fourth_fails_success_at_three() -> None:
    score = score_search(kind="title", query="q", expect=[A], ranked=["w", "x", "y", A])

    assert (score.success_at_k, score.reciprocal_rank) == (0.0, 0.25)


def test_the_reciprocal_rank_stops_at_ten() -> None:
    ranked = [f"other-{n}" for n in range(10)] + [A]

    assert score_search(kind="title", query="q", expect=[A], ranked=ranked).reciprocal_rank == 0.0
    assert score_search(kind="title", query="q", expect=[A], ranked=ranked[1:]).reciprocal_rank == 0.1


def test_nothing_found_scores_zero() -> None:
    score = score_search(kind="title", query="q", expect=[A], ranked=[])

    assert (score.first_rank, score.success_at_1, score.success_at_k, score.reciprocal_rank, score.ndcg_at_5) == (
        None,
        0.0,
        0.0,
        0.0,
        0.0,
    )
    assert score.is_miss


def test_dcg_discounts_by_log2_of_rank_plus_one() -> None:
    # 3/log2(2) + 0/log2(3) + 1/log2(4)
    assert dcg([3, 0, 1]) == pytest.approx(3.5)


def test_ndcg_of_the_ideal_order_is_one() -> None:
    assert ndcg([A, B, C], [A, B, C, "x", "y"]) == pytest.approx(1.0)


def test_ndcg_with_graded_gains_out_of_order() -> None:
    # DCG = 0 + 3/log2(3) + 1/log2(4) + 2/log2(5) = 3.25414; ideal 3 + 2/log2(3) + 1/2 = 4.76186
    assert ndcg([A, B, C], ["x", A, C, B]) == pytest.approx(0.683376, abs=1e-6)


def test_ndcg_with_the_second_best_first() -> None:
    # (2 + 3/log2(3)) / (3 + 2/log2(3))
    assert ndcg([A, B], [B, A]) == pytest.approx(0.913402, abs=1e-6)


def test_ndcg_looks_at_the_first_five_only() -> None:
    assert ndcg([A], ["v", "w", "x", "y", "z", A]) == 0.0
    # 3/log2(4) over 3
    assert ndcg([A], ["x", "y", A]) == pytest.approx(0.5)


def test_autocomplete_succeeds_with_a_title_in_the_first_five() -> None:
    score = score_autocomplete(kind="title-prefix", prefix="ki", expect=[A], ranked=["v", "w", "x", "y", A])

    assert (score.first_rank, score.success_at_1, score.success_at_k, score.reciprocal_rank) == (5, 0.0, 1.0, 0.2)


def test_autocomplete_succeeds_at_five_with_the_author_suggested() -> None:
    score = score_autocomplete(
        kind="author-prefix",
        prefix="garc",
        expect=[A],
        ranked=["x"],
        titles=["X"],
        authors=["Gabriel García Márquez"],
        suggested_authors=["gabriel  garcia marquez"],
    )

    # The author counts for success@5 only: titles decide success@1, MRR and nDCG.
    assert (score.success_at_1, score.success_at_k, score.reciprocal_rank, score.ndcg_at_5) == (0.0, 1.0, 0.0, 0.0)
    assert score.top == ("X", "author: gabriel  garcia marquez")
    assert not score.is_miss


def test_autocomplete_with_another_author_suggested_fails() -> None:
    score = score_autocomplete(
        kind="author-prefix",
        prefix="harr",
        expect=[A],
        ranked=["x"],
        authors=["J.K. Rowling"],
        suggested_authors=["Harry Harrison"],
    )

    assert score.success_at_k == 0.0
    assert score.is_miss


def test_aggregate_takes_the_mean_of_each_figure() -> None:
    first = score_search(kind="title", query="a", expect=[A], ranked=[A])
    second = score_search(kind="title", query="b", expect=[A], ranked=["x", "y", "z", A])

    figures = aggregate([first, second], k=3)

    assert (figures.queries, figures.success_at_1, figures.success_at_k, figures.mrr) == (2, 0.5, 0.5, 0.625)
    # (1 + 3/log2(5)/3) / 2
    assert figures.ndcg_at_5 == pytest.approx(0.7153, abs=1e-4)
    assert figures.as_dict() == {
        "queries": 2,
        "success_at_1": 0.5,
        "success_at_3": 0.5,
        "mrr": 0.625,
        "ndcg_at_5": figures.ndcg_at_5,
    }


def test_aggregate_by_kind_keeps_the_kinds_in_order_then_all() -> None:
    scores = [
        score_search(kind="title", query="a", expect=[A], ranked=[A]),
        score_search(kind="author", query="b", expect=[A], ranked=[]),
        score_search(kind="title", query="c", expect=[A], ranked=["x", A]),
    ]

    figures = aggregate_by_kind(scores, k=3)

    assert list(figures) == ["title", "author", "all"]
    assert (figures["title"].queries, figures["title"].mrr) == (2, 0.75)
    assert (figures["author"].queries, figures["author"].mrr) == (1, 0.0)
    assert (figures["all"].queries, figures["all"].mrr) == (3, 0.5)


def test_aggregate_of_nothing_is_zero() -> None:
    assert aggregate([], k=5).as_dict() == {
        "queries": 0,
        "success_at_1": 0.0,
        "success_at_5": 0.0,
        "mrr": 0.0,
        "ndcg_at_5": 0.0,
    }


# --- The loader -----------------------------------------------------------------------------

VALID = f"""
[[search]]
query = "the kite runner"
kind = "title"
expect = ["{A}", "{B}"]
note = "the novel"

[[autocomplete]]
prefix = "kite"
kind = "title-prefix"
expect = ["{A}"]
authors = ["Khaled Hosseini"]
"""


def judgments_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "judgments.toml"
    path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(JudgmentsError) as error:
        load_judgments(judgments_file(tmp_path, text))
    return str(error.value)


def test_the_loader_reads_searches_and_prefixes(tmp_path: Path) -> None:
    judgments = load_judgments(judgments_file(tmp_path, VALID))

    [search] = judgments.search
    [prefix] = judgments.autocomplete
    assert (search.text, search.kind, search.expect, search.note) == ("the kite runner", "title", (A, B), "the novel")
    assert (prefix.text, prefix.kind, prefix.expect, prefix.authors) == (
        "kite",
        "title-prefix",
        (A,),
        ("Khaled Hosseini",),
    )


def test_the_loader_refuses_an_unknown_kind(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID.replace('kind = "title"', 'kind = "titel"'))

    assert "[[search]] #1 (query 'the kite runner'): unknown kind 'titel' (one of: title, partial-title" in message


def test_the_loader_refuses_an_autocomplete_kind_in_search(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID.replace('kind = "title"', 'kind = "title-prefix"'))

    assert "unknown kind 'title-prefix'" in message


def test_the_loader_refuses_an_empty_expect(tmp_path: Path) -> None:
    message = refusal(tmp_path, VALID.replace(f'expect = ["{A}"]', "expect = []"))

    assert "[[autocomplete]] #1 (prefix 'kite'): expect is empty" in message


@pytest.mark.parametrize("isbn", ["9781594480004", "978-1-59448-000-3", "1594480001", "97815944800O3"])
def test_the_loader_refuses_a_bad_isbn(tmp_path: Path, isbn: str) -> None:
    message = refusal(tmp_path, VALID.replace(f'"{B}"', f'"{isbn}"'))

    assert f"{isbn!r} in expect is not an ISBN-13" in message


def test_the_loader_refuses_a_missing_or_unknown_key(tmp_path: Path) -> None:
    assert "missing expect" in refusal(tmp_path, VALID.replace(f'expect = ["{A}", "{B}"]', ""))
    assert "unknown key(s) expected" in refusal(tmp_path, VALID.replace("expect = [", "expected = [", 1))


def test_the_loader_refuses_a_query_judged_twice(tmp_path: Path) -> None:
    twice = VALID + VALID.split("[[autocomplete]]")[0].replace("the kite runner", "The Kite Runner")

    assert "'The Kite Runner' is judged twice" in refusal(tmp_path, twice)


def test_the_loader_refuses_what_is_not_toml(tmp_path: Path) -> None:
    assert "not valid TOML" in refusal(tmp_path, "[[search]\nquery = ")


def test_isbn13_check_digits() -> None:
    assert all(is_isbn13(isbn) for isbn in (A, B, C))
    assert not is_isbn13("9781594480004")


def test_the_judged_query_set_loads() -> None:
    assert DEFAULT_PATH.exists()
    judgments = load_judgments()

    assert judgments.search
    assert judgments.autocomplete
