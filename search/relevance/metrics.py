"""Scoring rankings against judgments: pure functions, no database, no search engine.

Grades: the first book a judgment expects has grade 3, the second 2, every other listed
book 1, a book not listed 0. Per query:

- ``first_rank``: the 1-based rank of the first expected book among those returned (None: not returned);
- success@1 and success@k (k = 3 for search, 5 for autocomplete): an expected book within the first k —
  for autocomplete an author suggestion naming one of the judgment's ``authors`` is a success@5 too,
  since the header box shows it beside the titles;
- reciprocal rank: ``1 / first_rank`` within the first 10, else 0;
- nDCG@5: ``DCG = Σ grade_i / log2(i + 1)`` over ranks 1 to 5, divided by the DCG of the ideal order
  of the expected grades.

Each figure is averaged over the queries of a kind and over all of them.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

SEARCH_SUCCESS_AT = 3
AUTOCOMPLETE_SUCCESS_AT = 5
RECIPROCAL_RANK_CUTOFF = 10
NDCG_AT = 5
ALL_KINDS = "all"


@dataclass(frozen=True)
class QueryScore:
    """How one query or prefix fared; ``top`` are the titles that came first, to read misses by."""

    kind: str
    text: str
    first_rank: int | None
    success_at_1: float
    success_at_k: float
    reciprocal_rank: float
    ndcg_at_5: float
    top: tuple[str, ...] = ()

    @property
    def is_miss(self) -> bool:
        """No success@k, or the first expected book is not first."""
        return not self.success_at_k or (self.first_rank is not None and self.first_rank > 1)


@dataclass(frozen=True)
class Aggregate:
    """The mean of each figure over ``queries`` scores (``k``: the success@k of this suite)."""

    queries: int
    k: int
    success_at_1: float
    success_at_k: float
    mrr: float
    ndcg_at_5: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "queries": self.queries,
            "success_at_1": self.success_at_1,
            f"success_at_{self.k}": self.success_at_k,
            "mrr": self.mrr,
            "ndcg_at_5": self.ndcg_at_5,
        }


def grades(expect: Sequence[str]) -> dict[str, int]:
    """Each expected book's grade: 3 for the first, 2 for the second, 1 for the rest."""
    return {book: max(3 - position, 1) for position, book in enumerate(expect)}


def first_rank(expect: Iterable[str], ranked: Sequence[str]) -> int | None:
    """The 1-based rank of the first expected book in ``ranked``, or None."""
    wanted = set(expect)
    return next((rank for rank, book in enumerate(ranked, start=1) if book in wanted), None)


def reciprocal_rank(rank: int | None, cutoff: int = RECIPROCAL_RANK_CUTOFF) -> float:
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def dcg(gains: Iterable[float]) -> float:
    """Discounted cumulative gain: ``Σ gain_i / log2(i + 1)`` with i from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg(expect: Sequence[str], ranked: Sequence[str], at: int = NDCG_AT) -> float:
    """The DCG of ``ranked[:at]`` over that of the ideal order of the expected grades (0 to 1)."""
    graded = grades(expect)
    ideal = dcg(sorted(graded.values(), reverse=True)[:at])
    return dcg(graded.get(book, 0) for book in ranked[:at]) / ideal if ideal else 0.0


def score_search(
    *, kind: str, query: str, expect: Sequence[str], ranked: Sequence[str], titles: Sequence[str] = ()
) -> QueryScore:
    """One search: ``ranked`` are the ISBN-13s returned, best first, ``titles`` theirs."""
    rank = first_rank(expect, ranked)
    return QueryScore(
        kind=kind,
        text=query,
        first_rank=rank,
        success_at_1=float(rank == 1),
        success_at_k=float(rank is not None and rank <= SEARCH_SUCCESS_AT),
        reciprocal_rank=reciprocal_rank(rank),
        ndcg_at_5=ndcg(expect, ranked),
        top=tuple(titles[:SEARCH_SUCCESS_AT]),
    )


def score_autocomplete(
    *,
    kind: str,
    prefix: str,
    expect: Sequence[str],
    ranked: Sequence[str],
    titles: Sequence[str] = (),
    authors: Sequence[str] = (),
    suggested_authors: Sequence[str] = (),
) -> QueryScore:
    """One prefix: ``ranked`` are the title suggestions' ISBN-13s, ``suggested_authors`` the author suggestions.

    Only success@5 counts an author suggestion; success@1, reciprocal rank and nDCG rank titles.
    """
    rank = first_rank(expect, ranked)
    is_author_hit = bool({_folded(name) for name in authors} & {_folded(name) for name in suggested_authors})
    shown = tuple(titles[:AUTOCOMPLETE_SUCCESS_AT]) + tuple(f"author: {name}" for name in suggested_authors)
    return QueryScore(
        kind=kind,
        text=prefix,
        first_rank=rank,
        success_at_1=float(rank == 1),
        success_at_k=float((rank is not None and rank <= AUTOCOMPLETE_SUCCESS_AT) or is_author_hit),
        reciprocal_rank=reciprocal_rank(rank),
        ndcg_at_5=ndcg(expect, ranked),
        top=shown,
    )


def aggregate(scores: Sequence[QueryScore], *, k: int) -> Aggregate:
    """The mean of each figure (all 0 for no scores)."""
    count = len(scores)

    def mean(values: Iterable[float]) -> float:
        return round(sum(values) / count, 4) if count else 0.0

    return Aggregate(
        queries=count,
        k=k,
        success_at_1=mean(score.success_at_1 for score in scores),
        success_at_k=mean(score.success_at_k for score in scores),
        mrr=mean(score.reciprocal_rank for score in scores),
        ndcg_at_5=mean(score.ndcg_at_5 for score in scores),
    )


def aggregate_by_kind(scores: Sequence[QueryScore], *, k: int) -> dict[str, Aggregate]:
    """One ``Aggregate`` per kind (in the order kinds first appear), then ``"all"``."""
    kinds = list(dict.fromkeys(score.kind for score in scores))
    by_kind = {kind: aggregate([score for score in scores if score.kind == kind], k=k) for kind in kinds}
    by_kind[ALL_KINDS] = aggregate(scores, k=k)
    return by_kind


def _folded(name: str) -> str:
    """A name compared without case, accents or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    return " ".join("".join(char for char in decomposed if not unicodedata.combining(char)).casefold().split())
