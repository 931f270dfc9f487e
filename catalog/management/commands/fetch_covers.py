"""``manage.py fetch_covers``: fetch every imported cover that is due, for backfills and catch-up.

Celery fetches covers as imports bring them (``catalog.tasks``); this command does the
same work in the foreground for a catalog that predates that, for the embedded default
(where Celery runs in-process and imports do not queue fetches), and to retry covers
given up on (``--retry-failed``). Downloads run on a few threads (``--workers``) so one
slow host does not stall the rest, and never more, so no host is hammered.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from tqdm import tqdm

from catalog.cover_fetch import CoverFetchOutcome, CoverFetchStatus, books_needing_cover, cover_fetch

MAX_WORKERS = 16


def _fetch_in_thread(book_id: int, force: bool) -> CoverFetchOutcome:
    try:
        return cover_fetch(book_id=book_id, force=force)
    finally:
        # Each worker thread has its own database connection; do not leave them open.
        connections.close_all()


class Command(BaseCommand):
    help = (
        "Fetch the cover_url of every book whose cover is not fetched yet (or is due a retry) into media "
        "storage, resized for the pages. --retry-failed also retries covers given up on. Prints a summary; "
        "exits 1 if any fetch failed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--limit", type=int, help="fetch at most this many books (oldest first)")
        parser.add_argument(
            "--retry-failed",
            action="store_true",
            help="also retry covers that failed for good or are not due yet (resets their schedule)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.COVER_FETCH_COMMAND_WORKERS,
            help=f"parallel downloads, 1 to {MAX_WORKERS} (default {settings.COVER_FETCH_COMMAND_WORKERS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit: int | None = options["limit"]
        workers: int = options["workers"]
        retry_failed: bool = options["retry_failed"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        if not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"--workers must be between 1 and {MAX_WORKERS}.")

        ids = list(books_needing_cover(include_failed=retry_failed).values_list("pk", flat=True)[:limit])
        started = time.monotonic()
        counts: Counter[CoverFetchStatus] = Counter()
        failures: list[CoverFetchOutcome] = []
        progress = tqdm(total=len(ids), desc="covers", unit="book", file=self.stderr, disable=options["verbosity"] < 1)

        def record(outcome: CoverFetchOutcome) -> None:
            counts[outcome.status] += 1
            if outcome.status == CoverFetchStatus.FAILED:
                failures.append(outcome)
            progress.update()

        with progress:
            if workers == 1:
                for book_id in ids:
                    record(cover_fetch(book_id=book_id, force=retry_failed))
            else:
                with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch-covers") as pool:
                    futures = [pool.submit(_fetch_in_thread, book_id, retry_failed) for book_id in ids]
                    for future in as_completed(futures):
                        record(future.result())

        for outcome in sorted(failures, key=lambda outcome: outcome.book_id):
            then = f"retry after {outcome.retry_at:%Y-%m-%d %H:%M}" if outcome.retry_at else "given up"
            self.stderr.write(f"book {outcome.book_id}: {outcome.error}: {outcome.detail} ({then})")
        retrying = sum(1 for outcome in failures if outcome.retry_at is not None)
        others = sum(count for status, count in counts.items() if status not in _SUMMARISED)
        summary = (
            f"{len(ids):,} books: {counts[CoverFetchStatus.FETCHED]:,} fetched, "
            f"{len(failures):,} failed ({retrying:,} to retry, {len(failures) - retrying:,} given up), "
            f"{others:,} skipped ({time.monotonic() - started:.1f} s)."
        )
        if failures:
            self.stdout.write(summary)
            raise CommandError(f"{len(failures):,} cover(s) could not be fetched; see the reasons above.")
        self.stdout.write(self.style.SUCCESS(summary))


_SUMMARISED = {CoverFetchStatus.FETCHED, CoverFetchStatus.FAILED}
