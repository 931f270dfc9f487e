"""``manage.py dynamo_sync``: create the hot data table, backfill it, check it for drift (docs/hot-data.md).

dynamo_sync --create-table                      create the table if missing (idempotent)
dynamo_sync --backfill [--batch N]              write every book's record (creates the table)
dynamo_sync --check [--sample N | --all] [--repair]
                                                compare with Postgres; exit 1 on drift not repaired
"""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from catalog.hot import dynamo
from catalog.hot.sync import DriftReport, hot_backfill, hot_drift_check
from catalog.models import Book
from cloudshelf.database import long_running_statements

MAX_BATCH = 5000
# Keys of each kind of difference printed in full; the rest are counted.
SHOWN = 20


def _positive(name: str, maximum: int) -> Any:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ArgumentTypeError(f"{name} must be a whole number, not {raw[:40]!r}") from None
        if not 1 <= value <= maximum:
            raise ArgumentTypeError(f"{name} must be between 1 and {maximum:,}")
        return value

    parse.__name__ = name  # argparse names the type in its error message
    return parse


class Command(BaseCommand):
    help = "Create, backfill or check the DynamoDB table of hot book records (DYNAMODB_TABLE)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--create-table", action="store_true", help="create the table if it does not exist")
        mode.add_argument("--backfill", action="store_true", help="write every book's record (BatchWriteItem)")
        mode.add_argument("--check", action="store_true", help="compare records with Postgres")
        parser.add_argument("--batch", type=_positive("--batch", MAX_BATCH), default=500, help="books per batch")
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--sample", type=_positive("--sample", 10_000_000), help="check this many random books")
        scope.add_argument("--all", action="store_true", help="check every book, and look for extra items")
        parser.add_argument("--repair", action="store_true", help="with --check: write what differs, delete extras")

    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DYNAMODB_TABLE:
            raise CommandError("DYNAMODB_TABLE is not set: there is no hot data table to work on.")
        if not options["check"] and (options["sample"] or options["all"] or options["repair"]):
            raise CommandError("--sample, --all and --repair go with --check.")
        try:
            if options["create_table"]:
                created = dynamo.table_create()
                self.stdout.write(f"Table {settings.DYNAMODB_TABLE} {'created' if created else 'already exists'}.")
            elif options["backfill"]:
                self._backfill(options)
            else:
                self._check(options)
        except (dynamo.HotTableError, BotoCoreError, ClientError) as error:
            raise CommandError(f"DynamoDB: {error}") from None

    def _bar(self, total: int, label: str, options: dict[str, Any]) -> tqdm:
        return tqdm(total=total, desc=label, unit=" books", file=self.stderr, disable=options["verbosity"] < 1)

    def _backfill(self, options: dict[str, Any]) -> None:
        with self._bar(Book.objects.count(), "backfill", options) as bar:
            written = hot_backfill(batch=options["batch"], progress=bar.update)
        self.stdout.write(
            self.style.SUCCESS(f"Wrote the hot records of {written:,} books to {settings.DYNAMODB_TABLE}.")
        )

    def _check(self, options: dict[str, Any]) -> None:
        sample = None if options["all"] else (options["sample"] or settings.DYNAMODB_DRIFT_SAMPLE)
        total = Book.objects.count() if sample is None else min(sample, Book.objects.count())
        with self._bar(total, "check", options) as bar:
            report = hot_drift_check(
                sample=sample, repair=options["repair"], batch=options["batch"], progress=bar.update
            )
        self._describe(report)
        if not report.is_clean and not options["repair"]:
            raise CommandError("The table differs from Postgres; run again with --repair to fix it.")

    def _describe(self, report: DriftReport) -> None:
        self.stdout.write(f"Checked {report.checked:,} books.")
        for label, keys in (("missing", report.missing), ("stale", report.stale), ("extra", report.extra)):
            if keys:
                shown = ", ".join(keys[:SHOWN]) + (f" and {len(keys) - SHOWN:,} more" if len(keys) > SHOWN else "")
                self.stdout.write(f"  {label}: {len(keys):,} items: {shown}")
        if report.is_clean:
            self.stdout.write(self.style.SUCCESS("No drift: every record checked matches Postgres."))
        elif report.repaired:
            self.stdout.write(self.style.SUCCESS(f"Repaired {report.repaired:,} items."))
