"""Running the judged queries against one backend, directly: no caches in front, no analytics.

The engine (``search.engine``) would answer from the database whenever OpenSearch is
slow or its breaker is open, and would announce each search to analytics. The suite
calls the backend modules themselves instead, so a score always says which engine it
measures: asking ``"opensearch"`` either gets OpenSearch's answers or fails loudly.
Run it with ``SEARCH_RESULTS_CACHE_SECONDS=0`` (``make relevance`` does) so a ranking
change is scored at once rather than after kept answers expire.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from django.db import connection
from django.urls import resolve

from catalog.models import Book
from search.backends import opensearch
from search.backends.base import SearchBackend
from search.client import is_configured
from search.engine import AUTOCOMPLETE_AUTHORS, database_backend, search_spec
from search.params import clean_query
from search.relevance.judgments import Judgment, Judgments
from search.relevance.metrics import (
    AUTOCOMPLETE_SUCCESS_AT,
    SEARCH_SUCCESS_AT,
    Aggregate,
    QueryScore,
    aggregate_by_kind,
    score_autocomplete,
    score_search,
)

BACKENDS = ("opensearch", "fallback")
# What each backend's results say in ``result.backend``.
ANSWERED_BY = {"opensearch": "opensearch", "fallback": "database"}
SEARCH_PAGE_SIZE = 10
AUTOCOMPLETE_LIMIT = 5


class SuiteError(RuntimeError):
    """A backend cannot be scored: not configured, or another backend answered."""


@dataclass(frozen=True)
class BackendRun:
    """Every judgment's score from one backend, and how long asking took."""

    backend: str
    answered_by: str
    search: tuple[QueryScore, ...]
    autocomplete: tuple[QueryScore, ...]
    seconds: float

    def search_figures(self) -> dict[str, Aggregate]:
        return aggregate_by_kind(self.search, k=SEARCH_SUCCESS_AT)

    def autocomplete_figures(self) -> dict[str, Aggregate]:
        return aggregate_by_kind(self.autocomplete, k=AUTOCOMPLETE_SUCCESS_AT)

    def as_dict(self) -> dict[str, Any]:
        """Everything, for ``--json``: figures per kind (and ``"all"``), misses, every query's score."""
        return {
            "backend": self.backend,
            "answered_by": self.answered_by,
            "seconds": self.seconds,
            "search": {kind: figures.as_dict() for kind, figures in self.search_figures().items()},
            "autocomplete": {kind: figures.as_dict() for kind, figures in self.autocomplete_figures().items()},
            "misses": {
                "search": [asdict(score) for score in self.search if score.is_miss],
                "autocomplete": [asdict(score) for score in self.autocomplete if score.is_miss],
            },
            "queries": {
                "search": [asdict(score) for score in self.search],
                "autocomplete": [asdict(score) for score in self.autocomplete],
            },
        }


def relevance_run(judgments: Judgments, *, backend: str) -> BackendRun:
    """Score every judgment against ``backend`` ("opensearch" or "fallback"); raises ``SuiteError``."""
    engine = _backend(backend)
    missing = judged_books_missing(judgments)
    if missing:
        # Such a judgment can never pass: its figures would measure the catalog, not the ranking.
        raise SuiteError(
            f"{len(missing)} judged book(s) are not in the catalog ({', '.join(missing[:10])}): "
            "is this the dev catalog, and did the importer accept them?"
        )
    started = time.perf_counter()
    search_scores = tuple(_search_score(engine, backend, judgment) for judgment in judgments.search)
    autocomplete_scores = tuple(_autocomplete_score(engine, backend, judgment) for judgment in judgments.autocomplete)
    return BackendRun(
        backend=backend,
        answered_by=ANSWERED_BY[backend],
        search=search_scores,
        autocomplete=autocomplete_scores,
        seconds=round(time.perf_counter() - started, 2),
    )


def judged_books_missing(judgments: Judgments) -> list[str]:
    """The ISBN-13s the judgments expect that no book of the catalog has."""
    judged = {isbn for judgment in judgments.search + judgments.autocomplete for isbn in judgment.expect}
    present = set(Book.objects.filter(isbn13__in=judged).values_list("isbn13", flat=True))
    return sorted(judged - present)


def _backend(name: str) -> SearchBackend:
    if name == "opensearch":
        if not is_configured():
            raise SuiteError("OPENSEARCH_URL is not set: OpenSearch cannot be scored")
        return opensearch
    if name == "fallback":
        if connection.vendor != "postgresql":
            raise SuiteError(f"the fallback scored is Postgres full text; the database is {connection.vendor}")
        return database_backend()
    raise SuiteError(f"unknown backend {name!r} (one of: {', '.join(BACKENDS)})")


def _check_answered(backend: str, answered: str, text: str) -> None:
    if answered != ANSWERED_BY[backend]:
        raise SuiteError(
            f"{backend} was asked {text!r} but {answered} answered: its figures would be the wrong engine's"
        )


def _search_score(engine: SearchBackend, backend: str, judgment: Judgment) -> QueryScore:
    spec, _ = search_spec(query=judgment.text, page_size=SEARCH_PAGE_SIZE)
    result = engine.search(spec)
    _check_answered(backend, result.backend, judgment.text)
    return score_search(
        kind=judgment.kind,
        query=judgment.text,
        expect=judgment.expect,
        ranked=[book.isbn13 for book in result.books],
        titles=[book.title for book in result.books],
    )


def _autocomplete_score(engine: SearchBackend, backend: str, judgment: Judgment) -> QueryScore:
    prefix = clean_query(judgment.text)[0]
    result = engine.autocomplete(prefix=prefix, limit=AUTOCOMPLETE_LIMIT, authors_limit=AUTOCOMPLETE_AUTHORS)
    _check_answered(backend, result.backend, judgment.text)
    return score_autocomplete(
        kind=judgment.kind,
        prefix=judgment.text,
        expect=judgment.expect,
        # A title suggestion links to its book's page, whose URL carries the ISBN-13.
        ranked=[str(resolve(title.url).kwargs["isbn13"]) for title in result.titles],
        titles=[title.title for title in result.titles],
        authors=judgment.authors,
        suggested_authors=[author.name for author in result.authors],
    )
