"""The write retry policy: full-jitter backoff on throttling, unprocessed items sent again, bounded.

moto does not throttle, so DynamoDB's throttling answers come from botocore's own Stubber on
the real client: the requests our code sends are checked against the service model.
"""

from __future__ import annotations

import random

import pytest
from botocore.stub import Stubber

from catalog.hot import dynamo

TABLE = "test-hot-retries"


@pytest.fixture
def stubbed(settings):
    settings.DYNAMODB_TABLE = TABLE
    settings.DYNAMODB_WRITE_ATTEMPTS = 4
    settings.DYNAMODB_BACKOFF_BASE = 0.05
    settings.DYNAMODB_BACKOFF_CAP = 0.3
    client = dynamo.write_client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def put(client):
    return lambda: client.put_item(TableName=TABLE, Item={"pk": {"S": "BOOK#1"}, "sk": {"S": "HOT"}})


def request(book_id: int) -> dict:
    return {"PutRequest": {"Item": {"pk": {"S": f"BOOK#{book_id}"}, "sk": {"S": "HOT"}}}}


def test_full_jitter_waits_stay_within_the_doubling_ceiling_and_vary(settings):
    settings.DYNAMODB_BACKOFF_BASE, settings.DYNAMODB_BACKOFF_CAP = 0.05, 0.3
    rng = random.Random(7)

    for attempt, ceiling in enumerate([0.05, 0.1, 0.2, 0.3, 0.3]):
        waits = [dynamo.backoff_seconds(attempt, rng=rng) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.8  # the whole range is used: not a fixed delay
        assert min(waits) < ceiling * 0.2


@pytest.mark.parametrize("code", sorted(dynamo.THROTTLING_CODES))
def test_throttling_is_retried_after_a_bounded_wait(stubbed, code):
    client, stubber = stubbed
    stubber.add_client_error("put_item", service_error_code=code, http_status_code=400)
    stubber.add_client_error("put_item", service_error_code=code, http_status_code=400)
    stubber.add_response("put_item", {})
    waits: list[float] = []

    dynamo.with_backoff(put(client), sleep=waits.append)

    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.05
    assert 0 <= waits[1] <= 0.1


def test_throttling_on_every_attempt_gives_up_for_the_task_to_retry_later(stubbed):
    client, stubber = stubbed
    for _ in range(4):
        stubber.add_client_error("put_item", service_error_code="ThrottlingException", http_status_code=400)
    waits: list[float] = []

    with pytest.raises(dynamo.HotTableError, match="4 attempts"):
        dynamo.with_backoff(put(client), sleep=waits.append)

    assert len(waits) == 3


def test_other_errors_are_not_retried(stubbed):
    client, stubber = stubbed
    stubber.add_client_error("put_item", service_error_code="ValidationException", http_status_code=400)
    waits: list[float] = []

    with pytest.raises(dynamo.ClientError):
        dynamo.with_backoff(put(client), sleep=waits.append)

    assert waits == []


def cancelled(stubber, *reasons: str) -> None:
    """The next ``TransactWriteItems`` is cancelled with these reasons (one per step)."""
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": reason} for reason in reasons]},
    )


def transact(client):
    steps = [{"Put": {"TableName": TABLE, "Item": {"pk": {"S": "ISBN#1"}, "sk": {"S": "HOT"}}}}]
    return lambda: client.transact_write_items(TransactItems=steps)


@pytest.mark.parametrize("reasons", [("None", "ThrottlingError"), ("TransactionConflict", "None")])
def test_a_transaction_cancelled_by_throttling_or_a_conflict_is_retried(stubbed, reasons):
    client, stubber = stubbed
    cancelled(stubber, *reasons)
    stubber.add_response("transact_write_items", {})
    waits: list[float] = []

    dynamo.with_backoff(transact(client), sleep=waits.append)

    assert len(waits) == 1


def test_a_transaction_cancelled_by_its_condition_is_not_retried(stubbed):
    client, stubber = stubbed
    cancelled(stubber, "ConditionalCheckFailed", "ThrottlingError")
    waits: list[float] = []

    with pytest.raises(dynamo.ClientError):
        dynamo.with_backoff(transact(client), sleep=waits.append)

    assert waits == []


def test_unprocessed_items_are_sent_again_and_only_they(stubbed):
    _client, stubber = stubbed
    requests = [request(book_id) for book_id in range(1, 4)]
    stubber.add_response(
        "batch_write_item", {"UnprocessedItems": {TABLE: requests[1:]}}, {"RequestItems": {TABLE: requests}}
    )
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: requests[1:]}})
    waits: list[float] = []

    calls = dynamo.batch_write(requests, sleep=waits.append)

    assert calls == 2
    assert len(waits) == 1
    assert 0 <= waits[0] <= 0.05


def test_a_batch_is_split_into_calls_of_25(stubbed):
    _client, stubber = stubbed
    requests = [request(book_id) for book_id in range(1, 31)]
    stubber.add_response("batch_write_item", {}, {"RequestItems": {TABLE: requests[:25]}})
    stubber.add_response("batch_write_item", {}, {"RequestItems": {TABLE: requests[25:]}})

    assert dynamo.batch_write(requests, sleep=lambda _: None) == 2


def test_items_still_unprocessed_after_every_attempt_raise(stubbed):
    _client, stubber = stubbed
    requests = [request(1)]
    for _ in range(3):
        stubber.add_response("batch_write_item", {"UnprocessedItems": {TABLE: requests}})
    stubber.add_client_error("batch_write_item", service_error_code="ProvisionedThroughputExceededException")

    with pytest.raises(dynamo.HotTableError, match="still unprocessed"):
        dynamo.batch_write(requests, sleep=lambda _: None)
