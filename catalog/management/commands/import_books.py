"""``manage.py import_books FILE``: upsert books from a CSV or JSON Lines file.

Parsing and validation live in ``catalog.importing``, the writes in
``catalog.services.books_upsert``; this command streams one into the other in batches and
reports. The file format is documented in ``docs/import-format.md``.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.importing import BookFileReader, BookRecord, ImportFileError, RowError
from catalog.maintenance import tables_vacuum_analyze
from catalog.models import Author, Book, BookAuthor, Category, Inventory
from catalog.services import books_upsert
from cloudshelf.database import long_running_statements

BATCH_SIZE = 500
PROGRESS_EVERY = 5000
# The tables ``books_upsert`` writes, VACUUM ANALYZEd after an import that changed anything.
IMPORTED_MODELS = (Book, BookAuthor, Author, Category, Inventory)


class Command(BaseCommand):
    help = (
        "Create or update books from a CSV or JSON Lines file (format: docs/import-format.md), matched by "
        "ISBN-13: importing the same file twice changes nothing. Each rejected row is reported on stderr with "
        "its line number and reason while the good rows load; the exit status is 1 if any row was rejected."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="a .csv, .jsonl or .ndjson file")
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="the file's format, when its extension does not say"
        )

    # Minutes-long statements (bulk writes, VACUUM, whole-table reads) are the job here.
    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        verbose = options["verbosity"] >= 1
        started = time.monotonic()
        counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        batch: list[BookRecord] = []
        errors: list[RowError] = []
        rows = 0

        def flush() -> None:
            result = books_upsert(records=batch)
            for outcome in ("created", "updated", "unchanged"):
                counts[outcome] += len(getattr(result, outcome))
            errors.extend(result.errors)
            # Rows rejected by the parser and by the database, reported together in file order.
            for error in sorted(errors, key=lambda error: error.line):
                self.stderr.write(f"line {error.line}: {error.reason}")
            counts["rejected"] += len(errors)
            batch.clear()
            errors.clear()

        try:
            reader = BookFileReader(path, file_format=options["format"])
            for item in reader:
                rows += 1
                if isinstance(item, RowError):
                    errors.append(item)
                else:
                    batch.append(item)
                if len(batch) >= BATCH_SIZE:
                    flush()
                if verbose and rows % PROGRESS_EVERY == 0:
                    self.stdout.write(f"  rows {rows:,} read ({time.monotonic() - started:.1f} s)")
            flush()
        except ImportFileError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"{path}: reading failed ({error.strerror or error}).") from None

        for warning in reader.warnings:
            self.stderr.write(f"warning: {warning}")
        if counts["created"] or counts["updated"]:
            # Fresh rows are invisible to index-only scans until a VACUUM marks their pages.
            vacuum = tables_vacuum_analyze(IMPORTED_MODELS)
            if verbose:
                self.stdout.write(vacuum.describe())
        summary = (
            f"{path}: {counts['created']:,} created, {counts['updated']:,} updated, "
            f"{counts['unchanged']:,} unchanged, {counts['rejected']:,} rejected "
            f"({time.monotonic() - started:.1f} s)."
        )
        if counts["rejected"]:
            self.stdout.write(summary)
            raise CommandError(f"{counts['rejected']:,} row(s) rejected; see the reasons above. The other rows loaded.")
        if verbose:
            self.stdout.write(self.style.SUCCESS(summary))
