"""Writing hot records: after a change (``hot_books_sync``), the whole catalog (``hot_backfill``),
and the drift check that compares DynamoDB with Postgres and repairs (``hot_drift_check``).

Change syncs write each item with a conditional ``PutItem``: ``attribute_not_exists(version)
OR version <= :v``, so an older record never replaces a newer one whatever order tasks
run in, and a refused write is a success (a newer one is there). ``BatchWriteItem`` takes no
conditions, so it is kept for the backfill, which writes the state it has just read while no
change sync is expected to be older than it (docs/hot-data.md, "Writes").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from botocore.exceptions import ClientError
from django.conf import settings

from catalog.hot import dynamo
from catalog.hot.records import HotRecord, hot_records, plain
from catalog.models import Book
from catalog.selectors.cards import all_book_id_batches

logger = logging.getLogger(__name__)

CONDITION = "attribute_not_exists(version) OR version <= :v"
# The version of a deleted book's id item: above any sum of row versions a book can reach.
TOMBSTONE_VERSION = 2**62


@dataclass
class SyncOutcome:
    """What a change sync did: items written, refused as older than the table's, deleted."""

    written: int = 0
    refused: int = 0
    deleted: int = 0


def _batch_get(keys: list[dict[str, Any]], *, projection: str | None = None) -> list[dict[str, Any]]:
    """Items for ``keys`` (any number, duplicates allowed): consistent reads, 100 keys per call,
    unprocessed keys asked again after a backoff. ``projection`` is a list of attribute names."""
    client, name, found = dynamo.write_client(), dynamo.table_name(), []
    unique = list({key["pk"]["S"]: key for key in keys}.values())
    for start in range(0, len(unique), 100):
        request: dict[str, Any] = {"Keys": unique[start : start + 100], "ConsistentRead": True}
        if projection:
            request["ProjectionExpression"] = projection
        pending: dict[str, Any] = {name: request}
        for attempt in range(settings.DYNAMODB_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(dynamo.backoff_seconds(attempt - 1))
            answer = dynamo.with_backoff(partial(client.batch_get_item, RequestItems=pending))
            found.extend(answer.get("Responses", {}).get(name, []))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise dynamo.HotTableError("keys still unprocessed after every attempt")
    return found


def _conditional_put(item: dict[str, Any], **extra: Any) -> dict[str, Any] | None:
    """``PutItem`` unless the table holds a newer version: the answer, or None when refused."""
    client = dynamo.write_client()
    try:
        return dynamo.with_backoff(
            lambda: client.put_item(
                TableName=dynamo.table_name(),
                Item=item,
                ConditionExpression=CONDITION,
                ExpressionAttributeValues={":v": item["version"]},
                **extra,
            )
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


def _put_if_newer(item: dict[str, Any]) -> bool:
    """Write ``item`` unless the table holds a newer version; False when it was refused."""
    return _conditional_put(item) is not None


def _put_id_item(item: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Write a book's id item unless newer; (written, the plain values of the item it replaced).

    The replaced item comes back in the same call (``ALL_OLD``), so the sync knows which
    ISBN item it displaced even when another task wrote the id item since the sync read it.
    """
    answer = _conditional_put(item, ReturnValues="ALL_OLD")
    return answer is not None, plain((answer or {}).get("Attributes", {}))


def _put_isbn_item(item: dict[str, Any], book_id: int) -> bool:
    """Write a book's ISBN item unless newer, and only while its id item holds the same version.

    One transaction with a check of the id item: a sync overtaken between its two writes (by a
    newer record, possibly of another ISBN, or by the book's tombstone) cannot put back an
    ISBN item that the newer writer has already deleted or will never delete.
    """
    client, name, version = dynamo.write_client(), dynamo.table_name(), {":v": item["version"]}
    steps = [
        {
            "ConditionCheck": {
                "TableName": name,
                "Key": dynamo.book_key(book_id),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": version,
            }
        },
        {
            "Put": {
                "TableName": name,
                "Item": item,
                "ConditionExpression": CONDITION,
                "ExpressionAttributeValues": version,
            }
        },
    ]
    try:
        dynamo.with_backoff(lambda: client.transact_write_items(TransactItems=steps))
    except ClientError as error:
        reasons = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
        if error.response["Error"]["Code"] == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
            return False
        raise
    return True


def _delete_item(key: dict[str, Any]) -> None:
    dynamo.with_backoff(partial(dynamo.write_client().delete_item, TableName=dynamo.table_name(), Key=key))


def _delete_isbn_item(isbn13: str, book_id: int) -> None:
    """Delete the ISBN item if it still belongs to ``book_id`` (the ISBN may have gone to another book)."""
    client = dynamo.write_client()
    try:
        dynamo.with_backoff(
            lambda: client.delete_item(
                TableName=dynamo.table_name(),
                Key=dynamo.isbn_key(isbn13),
                ConditionExpression="book_id = :id",
                ExpressionAttributeValues={":id": {"N": str(book_id)}},
            )
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise


def hot_books_sync(*, book_ids: list[int]) -> SyncOutcome:
    """Write the current records of ``book_ids`` (read from Postgres now), delete those of books gone.

    Idempotent and order-proof: a duplicate or late task writes nothing newer than the table's.
    Raises ``HotTableError``/``ClientError`` when DynamoDB fails; the task retries the whole batch.
    """
    ids = sorted(set(book_ids))
    outcome = SyncOutcome()
    if not ids:
        return outcome
    records = hot_records(ids)
    keys = [dynamo.book_key(book_id) for book_id in ids]
    stored = {
        int(values["book_id"]): values
        for values in map(plain, _batch_get(keys, projection="book_id, version, deleted"))
    }
    for book_id in ids:
        before = stored.get(book_id)
        record = records.get(book_id)
        if record is None:  # deleted from Postgres: the record goes too
            if before is None or not before.get("deleted"):
                replaced = _put_tombstone(book_id)
                if replaced.get("isbn13") and not replaced.get("deleted"):
                    _delete_isbn_item(str(replaced["isbn13"]), book_id)
                outcome.deleted += 1
            continue
        if before is not None and int(before["version"]) > record.version:
            outcome.refused += 2  # the table is ahead already (or the book is gone): save the writes
            continue
        by_id, by_isbn = record.items()
        # The id item first: if it is refused, a newer record (or the book's tombstone) is there,
        # and the ISBN item is left to the newer sync (or must not come back).
        written, replaced = _put_id_item(by_id)
        if not written:
            outcome.refused += 2
            continue
        outcome.written += 1
        if _put_isbn_item(by_isbn, book_id):
            outcome.written += 1
        else:
            outcome.refused += 1
        # The ISBN of the item just replaced, not of the one read above: another task may have
        # written (and moved the ISBN) in between.
        if replaced.get("isbn13") and replaced["isbn13"] != record.details.isbn13:
            _delete_isbn_item(str(replaced["isbn13"]), book_id)
    return outcome


def _put_tombstone(book_id: int) -> dict[str, Any]:
    """Mark the book deleted with a version no record reaches: a sync that read the book before
    its deletion and writes late is refused instead of bringing it back (ids are never reused).
    Returns the plain values of the item it replaced (``{}`` when there was none)."""
    item = {
        **dynamo.book_key(book_id),
        "book_id": {"N": str(book_id)},
        "deleted": {"BOOL": True},
        "version": {"N": str(TOMBSTONE_VERSION)},
    }
    client = dynamo.write_client()
    answer = dynamo.with_backoff(
        lambda: client.put_item(TableName=dynamo.table_name(), Item=item, ReturnValues="ALL_OLD")
    )
    return plain(answer.get("Attributes", {}))


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def hot_backfill(*, batch: int = 500, progress: Callable[[int], None] | None = None) -> int:
    """Write every book's record with ``BatchWriteItem`` (creating the table if needed); returns the count.

    ``progress`` is called with the number of books of each batch written.
    """
    dynamo.table_create()
    total = 0
    for ids in all_book_id_batches(batch):
        records = hot_records(ids)
        dynamo.batch_write([{"PutRequest": {"Item": item}} for record in records.values() for item in record.items()])
        total += len(records)
        if progress:
            progress(len(ids))
    return total


@dataclass
class DriftReport:
    """Differences between Postgres and DynamoDB found by ``hot_drift_check`` (item keys)."""

    checked: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def is_clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


def _extra_items(existing_ids: set[int]) -> list[dict[str, Any]]:
    """Items of the whole table that no current book accounts for (a scan: ``--all`` only)."""
    client, name, extra = dynamo.write_client(), dynamo.table_name(), []
    isbns = dict(Book.objects.values_list("isbn13", "pk"))
    request: dict[str, Any] = {
        "TableName": name,
        "ProjectionExpression": "pk, sk, book_id, isbn13, deleted",
    }
    while True:
        page = dynamo.with_backoff(lambda: client.scan(**request))
        for item in page.get("Items", []):
            values = plain(item)
            book_id = int(values.get("book_id", 0))
            is_book_item = values["pk"].startswith("BOOK#")
            if is_book_item and values.get("deleted"):
                continue  # a deleted book's tombstone: meant to stay
            # A book item of a deleted book, or an ISBN item no current book (or another one) holds.
            if book_id not in existing_ids if is_book_item else isbns.get(values["pk"][5:]) != book_id:
                extra.append(item)
        if "LastEvaluatedKey" not in page:
            return extra
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def hot_drift_check(
    *,
    sample: int | None = None,
    repair: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> DriftReport:
    """Compare the records of ``sample`` random books (all books when None) with DynamoDB.

    Reports items missing, stale (different from Postgres now) and, when checking all, extra
    (books deleted). ``repair`` writes the missing and stale ones (conditionally: a newer
    version written meanwhile by a change sync stays) and deletes the extra ones.
    """
    report = DriftReport()
    if not dynamo.table_exists():
        raise dynamo.HotTableError(f"table {dynamo.table_name()} does not exist (run dynamo_sync --backfill)")
    ids = list(Book.objects.order_by("?").values_list("pk", flat=True)[:sample]) if sample is not None else None
    seen: set[int] = set()
    chunks = all_book_id_batches(batch) if ids is None else _batches(sorted(ids), batch)
    for chunk in chunks:
        records: dict[int, HotRecord] = hot_records(chunk)
        seen.update(records)
        expected = {item["pk"]["S"]: item for record in records.values() for item in record.items()}
        actual = {
            item["pk"]["S"]: item
            for item in _batch_get([{"pk": item["pk"], "sk": item["sk"]} for item in expected.values()])
        }
        for key, item in expected.items():
            if key not in actual:
                report.missing.append(key)
            elif plain(actual[key]) != plain(item):
                report.stale.append(key)
            else:
                continue
            if repair and _put_if_newer(item):
                report.repaired += 1
        report.checked += len(records)
        if progress:
            progress(len(chunk))
    if sample is None:
        for item in _extra_items(seen):
            report.extra.append(item["pk"]["S"])
            if repair:
                _delete_item({"pk": item["pk"], "sk": item["sk"]})
                report.repaired += 1
    return report
