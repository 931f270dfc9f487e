"""``manage.py search_index``: rebuild the books index with zero downtime, or check it for drift."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from opensearchpy.exceptions import TransportError
from tqdm import tqdm

from catalog.models import Book
from cloudshelf.database import long_running_statements
from search import services
from search.client import is_configured
from search.documents import alias_name


def _ids(ids: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(book_id) for book_id in ids[:limit])
    return f"{shown}, … ({len(ids):,} in all)" if len(ids) > limit else shown


class Command(BaseCommand):
    help = (
        "--rebuild: build a new books index from the database with the bulk API, swap the alias to it "
        "atomically (searches never stop) and refresh the Postgres fallback's search rows. "
        "--check: report drift between the database and the index (ids in full, contents for a sample); "
        "exit status 1 when there is drift. --check --fix re-syncs the drifted books."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--rebuild", action="store_true", help="build a new index and swap the alias")
        action.add_argument("--check", action="store_true", help="compare the index with the database")
        action.add_argument("--cleanup", action="store_true", help="delete books indices the alias does not use")
        parser.add_argument("--keep-old", action="store_true", help="--rebuild: keep the previous index")
        parser.add_argument(
            "--sample", type=int, default=1000, help="--check: documents whose contents are compared (default 1000)"
        )
        parser.add_argument("--all", action="store_true", help="--check: compare the contents of every document")
        parser.add_argument("--fix", action="store_true", help="--check: re-sync every drifted book")

    # Minutes-long statements (bulk writes, VACUUM, whole-table reads) are the job here.
    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["rebuild"]:
                self._rebuild(keep_old=options["keep_old"], verbose=options["verbosity"] >= 1)
            elif options["check"]:
                self._check(sample=None if options["all"] else max(options["sample"], 0), fix=options["fix"])
            else:
                removed = services.search_index_cleanup()
                self.stdout.write(f"Deleted {len(removed)} unused indices: {', '.join(removed) or 'none'}")
        except TransportError as error:
            raise CommandError(f"OpenSearch refused: {error}") from None

    def _rebuild(self, *, keep_old: bool, verbose: bool) -> None:
        total = Book.objects.count()
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int) -> None:
            if stage not in bars:
                for bar in bars.values():
                    bar.close()
                bars.clear()
                label = "OpenSearch index" if stage == "index" else "fallback rows"
                bars[stage] = tqdm(total=total, desc=label, unit=" books", disable=not verbose, file=self.stderr)
            bars[stage].update(done)

        if not is_configured():
            self.stdout.write("OPENSEARCH_URL is not set: refreshing only the database fallback's search rows.")
        report = services.search_index_rebuild(progress=progress, keep_old=keep_old)
        for bar in bars.values():
            bar.close()
        bars.clear()
        if report.index:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Indexed {report.documents:,} books into {report.index}, alias {alias_name()} now points to it; "
                    f"{report.search_rows:,} fallback rows refreshed in {report.seconds:.1f} s."
                )
            )
            if report.removed_indices:
                self.stdout.write(f"Deleted the previous index: {', '.join(report.removed_indices)}")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"{report.search_rows:,} fallback rows refreshed in {report.seconds:.1f} s.")
            )

    def _check(self, *, sample: int | None, fix: bool) -> None:
        report = services.search_index_check(sample=sample)
        write = self.stdout.write
        write(f"Books in the database: {report.books:,}")
        if report.index_checked:
            write(f"Documents in {alias_name()}: {report.documents:,}")
            write(
                f"Missing from the index: {len(report.missing_ids):,}"
                + (f" ({_ids(report.missing_ids)})" if report.missing_ids else "")
            )
            write(
                f"In the index, deleted from the database: {len(report.extra_ids):,}"
                + (f" ({_ids(report.extra_ids)})" if report.extra_ids else "")
            )
            write(
                f"Different contents: {len(report.stale_ids):,} of {report.compared:,} compared"
                + (f" ({_ids(report.stale_ids)})" if report.stale_ids else "")
            )
        else:
            write("OPENSEARCH_URL is not set: only the fallback rows were checked.")
        write(
            f"Fallback rows: {report.fallback_rows:,}, missing {len(report.fallback_missing_ids):,}, "
            f"older than their book {len(report.fallback_stale_ids):,}"
        )
        if not report.has_drift:
            write(self.style.SUCCESS("No drift."))
            return
        if fix:
            services.search_books_sync(book_ids=report.ids_to_fix)
            write(self.style.SUCCESS(f"Re-synced {len(report.ids_to_fix):,} books."))
            return
        raise CommandError("The index has drifted from the database (run with --fix, or --rebuild).", returncode=1)
