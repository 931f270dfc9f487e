"""``manage.py seed_catalog``: load a deterministic synthetic catalog (see ``catalog.seeding``)."""

from __future__ import annotations

import time
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from catalog.models import Book
from catalog.seeding import MAX_BOOKS, SeedError, books_in_words, catalog_seed
from cloudshelf.database import long_running_statements


def _book_count(raw: str) -> int:
    try:
        value = int(raw.replace(",", "").replace("_", ""))
    except ValueError:
        raise ArgumentTypeError(f"{raw!r} is not a whole number") from None
    return value


class Command(BaseCommand):
    help = (
        "Load a synthetic catalog: authors with several books each, a category tree two or three levels "
        "deep, skewed popularity, ratings, reviews by seeded reviewer accounts (who cannot log in) and "
        "stock levels including out-of-stock books. The same --seed always gives the same catalog. "
        "A catalog that already has books is refused unless --if-empty (then nothing is done) or --append "
        "(books are added; a book whose ISBN the catalog already holds gets another one, and the output says how "
        "many did). "
        "No books_changed events are sent: rebuild the search index after seeding, and with DYNAMODB_TABLE set "
        "backfill the hot records (dynamo_sync --backfill; until then the API reads those books from Postgres)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--books", type=_book_count, required=True, help=f"how many books to create (1 to {MAX_BOOKS:,})"
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same catalog")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty", action="store_true", help="do nothing (successfully) when the catalog already has books"
        )
        mode.add_argument(
            "--append",
            action="store_true",
            help="add the books to a catalog that already has some (an ISBN it already holds is redrawn)",
        )

    # Minutes-long statements (bulk writes, VACUUM, whole-table reads) are the job here.
    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        books: int = options["books"]
        if not 1 <= books <= MAX_BOOKS:
            raise CommandError(f"--books must be between 1 and {MAX_BOOKS:,} (got {books:,}).")
        if options["if_empty"]:
            existing = Book.objects.count()
            if existing:
                self.stdout.write(f"The catalog already has {books_in_words(existing)}; not seeding (--if-empty).")
                return

        verbose = options["verbosity"] >= 1
        started = time.monotonic()
        if verbose:
            self.stdout.write(f"Seeding {books:,} books with seed {options['seed']}…")

        def progress(done: int, total: int) -> None:
            if verbose:
                elapsed = time.monotonic() - started
                self.stdout.write(f"  books {done:,}/{total:,} ({elapsed:.1f} s)")

        try:
            summary = catalog_seed(books=books, seed=options["seed"], append=options["append"], progress=progress)
        except SeedError as error:
            raise CommandError(str(error)) from None
        if verbose:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Seeded {summary.books:,} books, {summary.authors:,} authors, {summary.categories:,} categories, "
                    f"{summary.reviews:,} reviews by {summary.reviewers:,} reviewers in {summary.seconds:.1f} s. "
                    "Rebuild the search index to make them searchable."
                )
            )
            if options["append"]:
                self.stdout.write(f"ISBNs redrawn because the catalog already held them: {summary.isbns_redrawn:,}.")
            self.stdout.write(summary.vacuum.describe())
