"""The DynamoDB table of hot records: clients, keys, creation, and the write retry policy.

One table, two items per book holding the same record: ``pk=BOOK#<id>`` (detail by id) and
``pk=ISBN#<isbn13>`` (detail and availability by ISBN: one ``BatchGetItem`` for a whole
availability call, which a GSI could not serve). ``sk`` is ``HOT`` on both, leaving room for
other item kinds of a book later. On-demand billing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
SORT_KEY = "HOT"
# Errors that mean "slow down", not "wrong": retried with backoff (botocore's own retries are off).
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


class HotTableError(RuntimeError):
    """DynamoDB refused or could not be reached after every retry; the caller retries later."""


def book_key(book_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"BOOK#{book_id}"}, "sk": {"S": SORT_KEY}}


def isbn_key(isbn13: str) -> dict[str, Any]:
    return {"pk": {"S": f"ISBN#{isbn13}"}, "sk": {"S": SORT_KEY}}


@lru_cache(maxsize=8)
def _client(region: str, endpoint: str | None, connect_timeout: float, read_timeout: float) -> Any:
    # total_max_attempts=1: no botocore retries. Reads fall back to Postgres at once; writes
    # retry under ``with_backoff`` where the attempts and delays are ours to bound and test.
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"total_max_attempts": 1},
        max_pool_connections=20,
    )
    return boto3.session.Session().client("dynamodb", region_name=region, endpoint_url=endpoint, config=config)


def read_client() -> Any:
    """The client of the request path: short timeouts (``DYNAMODB_*_TIMEOUT``), no retries."""
    return _client(
        settings.DYNAMODB_REGION,
        settings.AWS_ENDPOINT_URL,
        settings.DYNAMODB_CONNECT_TIMEOUT,
        settings.DYNAMODB_READ_TIMEOUT,
    )


def write_client() -> Any:
    """The client of tasks and commands: patient timeouts (a worker can wait), no botocore retries."""
    return _client(settings.DYNAMODB_REGION, settings.AWS_ENDPOINT_URL, 2.0, 10.0)


def table_name() -> str:
    if not settings.DYNAMODB_TABLE:
        raise HotTableError("DYNAMODB_TABLE is not set: hot data is off")
    return str(settings.DYNAMODB_TABLE)


def table_create() -> bool:
    """Create the table (on-demand) unless it exists, and wait until it is active. True if created."""
    client, name = write_client(), table_name()
    try:
        client.create_table(
            TableName=name,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
        )
        created = True
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceInUseException":
            raise
        created = False
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return created


def table_exists() -> bool:
    try:
        write_client().describe_table(TableName=table_name())
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def table_delete() -> None:
    """Drop the table (tests and manual clean-up); a missing table is fine."""
    try:
        write_client().delete_table(TableName=table_name())
    except ClientError as error:
        if error.response["Error"]["Code"] != "ResourceNotFoundException":
            raise


def backoff_seconds(attempt: int, *, rng: random.Random | None = None) -> float:
    """Full jitter: a uniform wait in [0, min(cap, base * 2**attempt)] (AWS's recommended policy).

    Random rather than fixed, so writers throttled together do not all come back together.
    """
    ceiling = min(settings.DYNAMODB_BACKOFF_CAP, settings.DYNAMODB_BACKOFF_BASE * (2**attempt))
    return (rng or random).uniform(0, ceiling)


# Reasons a transaction step gives that mean "try again", not "refused": throttled, or another
# transaction touching the same item at that moment. "None" marks a step that was fine.
RETRYABLE_CANCELLATIONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def is_throttling(error: ClientError) -> bool:
    """Whether ``error`` means "slow down and send it again": a throttling code, or a transaction
    cancelled only for throttling or a conflict (one cancelled by a condition is an answer)."""
    code = error.response.get("Error", {}).get("Code")
    if code == "TransactionCanceledException":
        reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])} - {"None", None}
        return bool(reasons) and reasons <= RETRYABLE_CANCELLATIONS
    return code in THROTTLING_CODES


def with_backoff(call: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``call``; on throttling wait (``backoff_seconds``) and try again, ``DYNAMODB_WRITE_ATTEMPTS``
    times in all. Raises ``HotTableError`` when every attempt was throttled; other errors at once."""
    attempts = settings.DYNAMODB_WRITE_ATTEMPTS
    for attempt in range(attempts):
        try:
            return call()
        except ClientError as error:
            if not is_throttling(error):
                raise
            if attempt == attempts - 1:
                raise HotTableError(f"DynamoDB throttled {attempts} attempts in a row") from error
            delay = backoff_seconds(attempt)
            logger.info("hot data: throttled (%s), retrying in %.3f s", error.response["Error"]["Code"], delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def batch_write(requests: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Write ``requests`` (``PutRequest``/``DeleteRequest`` items) 25 at a time with ``BatchWriteItem``,
    sending ``UnprocessedItems`` again after a backoff. Returns the number of calls made.

    Unconditional: for the backfill and the drift repair's missing items, which write what
    Postgres holds now. Raises ``HotTableError`` when items are still unprocessed after every attempt.
    """
    client, name, calls = write_client(), table_name(), 0
    for start in range(0, len(requests), 25):
        pending = requests[start : start + 25]
        for attempt in range(settings.DYNAMODB_WRITE_ATTEMPTS):
            if attempt:
                sleep(backoff_seconds(attempt - 1))
            calls += 1
            try:
                answer = client.batch_write_item(RequestItems={name: pending})
            except ClientError as error:
                if not is_throttling(error):
                    raise
                continue
            pending = answer.get("UnprocessedItems", {}).get(name, [])
            if not pending:
                break
        if pending:
            raise HotTableError(
                f"{len(pending)} items still unprocessed after {settings.DYNAMODB_WRITE_ATTEMPTS} attempts"
            )
    return calls
