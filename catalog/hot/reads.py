"""The read path: book details and availability from DynamoDB, Postgres when it cannot answer.

With ``DYNAMODB_TABLE`` set, a read asks DynamoDB under the ``dynamodb`` circuit breaker
(``cloudshelf.breaker``): a timeout or error counts against it and the same request is
answered from Postgres; once open, reads go to Postgres without trying. A record not in
the table yet (a book created a moment ago, before its sync) is read from Postgres too.
The answer is the same ``BookDetails``/``BookAvailability`` either way, so the API's
responses do not show which store answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from catalog.hot import dynamo
from catalog.hot.records import availability_of_item, details_of_item
from catalog.selectors.cards import BookAvailability, BookDetails, book_details, books_availability
from cloudshelf.breaker import BreakerPolicy, CircuitBreaker

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What availability needs of an item: a fraction of the record's size, so of the read's cost.
AVAILABILITY_PROJECTION = "isbn13, book_id, price, currency, stock"


def dynamodb_breaker_policy() -> BreakerPolicy:
    """The DynamoDB settings as a breaker policy; keys carry the table name (a test's table is its own)."""
    return BreakerPolicy(
        failures=settings.DYNAMODB_BREAKER_FAILURES,
        window=settings.DYNAMODB_BREAKER_WINDOW,
        cooldown=settings.DYNAMODB_BREAKER_COOLDOWN,
        probe_seconds=max(2.0, (settings.DYNAMODB_CONNECT_TIMEOUT + settings.DYNAMODB_READ_TIMEOUT) * 4),
        key_prefix=f"dynamodb:{settings.DYNAMODB_TABLE}:",
    )


dynamodb_breaker = CircuitBreaker(
    "dynamodb",
    policy=dynamodb_breaker_policy,
    description="DynamoDB hot reads (partner API); while open, book details and availability come from Postgres.",
)


def is_configured() -> bool:
    return bool(settings.DYNAMODB_TABLE)


def _ask(call: Callable[[Any], dict[str, Any]]) -> dict[str, Any] | None:
    """``call(client)`` under the breaker; None when the breaker is open or DynamoDB failed."""
    attempt = dynamodb_breaker.acquire()
    if attempt is None:
        return None
    try:
        answer = call(dynamo.read_client())
    except (BotoCoreError, ClientError) as error:
        dynamodb_breaker.record_failure(attempt)
        logger.warning("hot data: DynamoDB read failed (%s); answering from Postgres", error)
        return None
    dynamodb_breaker.record_success(attempt)
    return answer


def _decoded(decode: Callable[[dict[str, Any]], T], item: dict[str, Any]) -> T | None:
    """``decode(item)``, or None for an item that lacks attributes or holds bad values.

    Such an item (a hand edit, a writer of another shape) is bad data, not an outage: it is
    logged and Postgres answers, without counting against the breaker; the drift check repairs it.
    """
    try:
        return decode(item)
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:
        logger.error("hot data: malformed item %s (%r); answering from Postgres", item.get("pk"), error)
        return None


def hot_book_details(*, book_id: int | None = None, isbn13: str | None = None) -> BookDetails | None:
    """The book with this id or ISBN-13 (exactly one of them), or None: ``book_details`` from the hot store."""
    if (book_id is None) == (isbn13 is None):
        raise TypeError("give exactly one of book_id and isbn13")
    lookup: dict[str, Any] = {"pk": book_id} if book_id is not None else {"isbn13": isbn13}
    if not is_configured():
        return book_details(**lookup)
    key = dynamo.book_key(book_id) if book_id is not None else dynamo.isbn_key(str(isbn13))
    answer = _ask(lambda client: client.get_item(TableName=settings.DYNAMODB_TABLE, Key=key))
    if answer is None or "Item" not in answer or "deleted" in answer["Item"]:
        return book_details(**lookup)  # down, not synced yet, or a deleted book's tombstone
    details = _decoded(details_of_item, answer["Item"])
    return details if details is not None else book_details(**lookup)


def hot_books_availability(isbns: list[str]) -> tuple[list[BookAvailability], list[str]]:
    """``books_availability`` from the hot store: one ``BatchGetItem`` (≤ 100 ISBNs), Postgres for the rest."""
    if not is_configured() or not isbns:
        return books_availability(isbns)
    keys = [dynamo.isbn_key(isbn) for isbn in dict.fromkeys(isbns)][:100]
    request = {settings.DYNAMODB_TABLE: {"Keys": keys, "ProjectionExpression": AVAILABILITY_PROJECTION}}
    answer = _ask(lambda client: client.batch_get_item(RequestItems=request))
    if answer is None:
        return books_availability(isbns)
    decoded = (
        _decoded(availability_of_item, item) for item in answer.get("Responses", {}).get(settings.DYNAMODB_TABLE, [])
    )
    found = {book.isbn13: book for book in decoded if book is not None}
    # Unprocessed keys (throttled), records not synced yet, malformed items: Postgres answers those, in one query.
    rest = [isbn for isbn in dict.fromkeys(isbns) if isbn not in found]
    if rest:
        from_postgres, _ = books_availability(rest)
        found.update((book.isbn13, book) for book in from_postgres)
    return [found[isbn] for isbn in isbns if isbn in found], [isbn for isbn in isbns if isbn not in found]
