"""``dynamo_sync``: the table created from code, the backfill, and the drift check that repairs."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.hot import dynamo
from catalog.hot.sync import hot_backfill, hot_books_sync, hot_drift_check
from catalog.models import Book
from tests.factories import BookFactory
from tests.hot.conftest import item, stored

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> str:
    out = StringIO()
    call_command("dynamo_sync", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_creating_the_table_is_idempotent(hot_table):
    assert dynamo.table_create() is False  # the fixture made it from the same code
    assert "already exists" in run("--create-table")
    table = dynamo.write_client().describe_table(TableName=hot_table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [key["AttributeName"] for key in table["KeySchema"]] == ["pk", "sk"]


def test_the_backfill_writes_both_items_of_every_book_in_batches(hot_table):
    books = BookFactory.create_batch(7)

    output = run("--backfill", "--batch", "3")

    assert "Wrote the hot records of 7 books" in output
    for book in books:
        assert stored(book.pk)["isbn13"] == book.isbn13
        assert item(dynamo.isbn_key(book.isbn13)) is not None
    assert dynamo.write_client().scan(TableName=hot_table, Select="COUNT")["Count"] == 14


def test_the_backfill_creates_a_missing_table(settings, hot_table):
    dynamo.table_delete()
    book = BookFactory()

    assert hot_backfill() == 1
    assert stored(book.pk) is not None


def test_a_clean_table_has_no_drift(hot_table):
    BookFactory.create_batch(3)
    hot_backfill()

    assert "No drift" in run("--check", "--all")


def test_the_check_finds_missing_stale_and_extra_items_and_repairs_them(hot_table):
    changed, lost, gone, fine = BookFactory.create_batch(4)
    hot_backfill()
    # Changes no sync heard of: SQL straight to Postgres, an item deleted, a book deleted.
    Book.objects.filter(pk=changed.pk).update(price=Decimal("1.23"))
    dynamo.write_client().delete_item(TableName=hot_table, Key=dynamo.book_key(lost.pk))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM catalog_bookauthor WHERE book_id = %s", [gone.pk])
        cursor.execute("DELETE FROM catalog_inventory WHERE book_id = %s", [gone.pk])
        cursor.execute("DELETE FROM catalog_book WHERE id = %s", [gone.pk])

    with pytest.raises(CommandError, match="--repair"):
        run("--check", "--all")
    report = hot_drift_check(repair=True)

    assert report.missing == [f"BOOK#{lost.pk}"]
    assert sorted(report.stale) == sorted([f"BOOK#{changed.pk}", f"ISBN#{changed.isbn13}"])
    assert sorted(report.extra) == sorted([f"BOOK#{gone.pk}", f"ISBN#{gone.isbn13}"])
    assert report.repaired == 5
    assert stored(changed.pk)["price"] == "1.23"
    assert stored(lost.pk) is not None
    assert stored(gone.pk) is None
    assert hot_drift_check().is_clean
    hot_books_sync(book_ids=[gone.pk])  # a tombstone now: meant to stay, not "extra"
    assert hot_drift_check().is_clean
    assert stored(fine.pk) is not None


def test_a_sample_check_looks_at_that_many_books(hot_table):
    BookFactory.create_batch(5)
    hot_backfill()

    output = run("--check", "--sample", "2")

    assert "Checked 2 books." in output


def test_the_scheduled_check_repairs_a_sample(hot_table, settings):
    from catalog.hot.tasks import hot_drift_check_task

    book = BookFactory()
    settings.DYNAMODB_DRIFT_SAMPLE = 10

    assert hot_drift_check_task.run(hot_table) == 2  # both items were missing
    assert stored(book.pk) is not None
    assert hot_drift_check_task.run("another-table") == 0


@pytest.mark.parametrize(("table", "scheduled"), [("books-hot", True), ("", False)])
def test_beat_runs_the_sample_check_hourly_only_with_a_table(monkeypatch, table, scheduled):
    from tests.test_settings import settings_for

    schedule = settings_for(monkeypatch, DYNAMODB_TABLE=table)["CELERY_BEAT_SCHEDULE"]

    assert ("hot-data-drift-check" in schedule) is scheduled
    if scheduled:
        entry = schedule["hot-data-drift-check"]
        assert entry["task"] == "catalog.hot_drift_check"
        assert entry["args"] == [table]  # a worker of another table leaves it alone


# --- Bad input: a clear message and a non-zero exit ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check", "--sample", "-1"], "--sample must be between 1"),
        (["--check", "--sample", "0"], "--sample must be between 1"),
        (["--check", "--sample", "lots"], "--sample must be a whole number"),
        (["--check", "--sample", "9" * 400], "--sample must be between 1"),
        (["--backfill", "--batch", "100000"], "--batch must be between 1"),
        (["--check", "--sample", "3", "--all"], "not allowed with argument"),
        (["--backfill", "--check"], "not allowed with argument"),
        (["--check", "--frobnicate"], "unrecognized arguments"),
        ([], "one of the arguments"),
    ],
)
def test_bad_arguments_are_refused(hot_table, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("dynamo_sync", *args)


@pytest.mark.slow
def test_from_the_command_line_bad_input_exits_non_zero(hot_table):
    environment = {**os.environ, "DYNAMODB_TABLE": hot_table}
    result = subprocess.run(
        [sys.executable, "manage.py", "dynamo_sync", "--check", "--sample", "-5"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "--sample must be between 1" in result.stderr


def test_repair_without_check_is_refused(hot_table):
    with pytest.raises(CommandError, match="go with --check"):
        run("--backfill", "--repair")


def test_without_a_table_setting_it_says_so(settings):
    settings.DYNAMODB_TABLE = ""

    with pytest.raises(CommandError, match="DYNAMODB_TABLE is not set"):
        run("--backfill")


def test_checking_a_missing_table_says_to_backfill(hot_table):
    dynamo.table_delete()

    with pytest.raises(CommandError, match="does not exist"):
        run("--check", "--all")


def test_dynamodb_down_is_an_error_not_a_traceback(hot_table, settings):
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"

    with pytest.raises(CommandError, match="DynamoDB: Could not connect"):
        run("--create-table")
