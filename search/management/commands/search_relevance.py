"""``manage.py search_relevance``: score search and autocomplete against the judged query set.

Builds (or reuses) the dedicated dev catalog first (``search.relevance.catalog``), then asks
each backend every judged query directly and prints success@1, success@k, MRR and nDCG@5
per kind and overall, then the misses. ``make relevance`` runs it with ``RELEVANCE_ENV``.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from opensearchpy.exceptions import TransportError

from search.relevance.catalog import CatalogError, relevance_catalog_prepare
from search.relevance.judgments import DEFAULT_PATH, JudgmentsError, load_judgments
from search.relevance.metrics import AUTOCOMPLETE_SUCCESS_AT, SEARCH_SUCCESS_AT, Aggregate, QueryScore
from search.relevance.suite import BACKENDS, BackendRun, SuiteError, relevance_run

LABELS = {"opensearch": "OpenSearch", "fallback": "Postgres fallback"}


class Command(BaseCommand):
    help = (
        "Score search and autocomplete against search/relevance/judgments.toml, on OpenSearch and on the "
        "Postgres fallback. First builds what is missing of the dedicated catalog (100,000 synthetic books "
        "plus data/goodbooks-dev.csv) in this database and index prefix, which must both be named for "
        "relevance (make relevance sets them); --no-build scores whatever catalog is configured."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--backend", choices=[*BACKENDS, "both"], default="both", help="what to score")
        parser.add_argument("--json", type=Path, metavar="PATH", help="also write every figure to PATH")
        parser.add_argument("--judgments", type=Path, default=DEFAULT_PATH, help="the judged query set")
        build = parser.add_mutually_exclusive_group()
        build.add_argument("--reindex", action="store_true", help="rebuild the index even when it is current")
        build.add_argument("--no-build", action="store_true", help="score the configured catalog as it is")

    # No @long_running_statements(): the database may not exist yet (the build creates it), and
    # the commands the build runs lift the timeouts for their own statements.
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            judgments = load_judgments(options["judgments"])
        except JudgmentsError as error:
            raise CommandError(str(error)) from None
        build: list[dict[str, Any]] = []
        if not options["no_build"]:
            try:
                steps = relevance_catalog_prepare(
                    reindex=options["reindex"], say=self.stdout.write, verbosity=options["verbosity"]
                )
            except CatalogError as error:
                raise CommandError(str(error)) from None
            build = [{"step": step.name, "outcome": step.outcome, "seconds": step.seconds} for step in steps]
        backends = list(BACKENDS) if options["backend"] == "both" else [options["backend"]]
        runs: list[BackendRun] = []
        for backend in backends:
            self.stdout.write(
                f"Scoring {LABELS[backend]}: {len(judgments.search)} searches, {len(judgments.autocomplete)} prefixes …"
            )
            try:
                runs.append(relevance_run(judgments, backend=backend))
            except (SuiteError, TransportError) as error:
                raise CommandError(f"{LABELS[backend]}: {error}") from None
            self._print_run(runs[-1])
        if options["json"]:
            report = {
                "judgments": str(options["judgments"]),
                "catalog": {"database": connection.settings_dict["NAME"], "index_prefix": settings.SEARCH_INDEX_PREFIX},
                "build": build,
                "backends": {run.backend: run.as_dict() for run in runs},
            }
            options["json"].parent.mkdir(parents=True, exist_ok=True)
            options["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            self.stdout.write(f"Figures written to {options['json']}")

    def _print_run(self, run: BackendRun) -> None:
        write = self.stdout.write
        write("")
        write(self.style.MIGRATE_HEADING(f"{LABELS[run.backend]} (answered by {run.answered_by}, {run.seconds:.1f} s)"))
        self._print_table("Search", run.search_figures(), SEARCH_SUCCESS_AT)
        self._print_table("Autocomplete", run.autocomplete_figures(), AUTOCOMPLETE_SUCCESS_AT)
        for title, scores in (("search", run.search), ("autocomplete", run.autocomplete)):
            misses = [score for score in scores if score.is_miss]
            write(f"Misses ({title}): {len(misses)} of {len(scores)}")
            for score in misses:
                write(f"  {_miss_line(score)}")

    def _print_table(self, title: str, figures: dict[str, Aggregate], k: int) -> None:
        write = self.stdout.write
        write(f"{title:<16}{'queries':>8}{'success@1':>11}{f'success@{k}':>11}{'MRR':>8}{'nDCG@5':>8}")
        for kind, figure in figures.items():
            line = (
                f"  {kind:<14}{figure.queries:>8}{figure.success_at_1:>11.3f}{figure.success_at_k:>11.3f}"
                f"{figure.mrr:>8.3f}{figure.ndcg_at_5:>8.3f}"
            )
            write(self.style.SUCCESS(line) if kind == "all" else line)


def _miss_line(score: QueryScore) -> str:
    where = "not found" if score.first_rank is None else f"first expected at {score.first_rank}"
    shown = "; ".join(score.top) or "nothing"
    return f"[{score.kind}] {score.text!r}: {where}; came first: {shown}"
