"""The partner API reads hot records from DynamoDB when configured, and answers identically from
Postgres when the table lacks a record, when DynamoDB is down or hung, and when it is off."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest

from catalog.hot.reads import dynamodb_breaker
from catalog.hot.sync import hot_backfill
from catalog.models import Book
from cloudshelf.breaker import CLOSED, OPEN
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory, TagFactory, next_isbn13

pytestmark = pytest.mark.django_db

HEALTH_TOKEN = "hot-tests-health-token"
UNKNOWN_ISBN = "9780306406157"  # valid, and never one the factories draw


@pytest.fixture
def books(db):
    """Books with every field the API shows filled in (and one with the fewest)."""
    fantasy = CategoryFactory(name="Fantasy")
    full = BookFactory(
        category=fantasy,
        price=Decimal("12.50"),
        stock=3,
        publication_date=date(2021, 6, 1),
        cover_url="https://img.example/c.jpg",
        page_count=320,
        publisher="Gollancz",
        subtitle="A Novel",
        authors=[AuthorFactory(name="Ursula Le Guin"), AuthorFactory(name="Second Hand")],
    )
    full.tags.add(TagFactory(name="glass"), TagFactory(name="amber"))
    ReviewFactory(book=full, rating=4)
    bare = BookFactory(category=None, stock=0, authors=[], description="")
    return [full, bare]


def answers(api, books) -> list:
    """Every hot read the API serves, for these books and an unknown ISBN."""
    isbns = ",".join([books[0].isbn13, UNKNOWN_ISBN, books[1].isbn13])
    responses = [
        *(api.get(f"/api/v1/books/{book.pk}/") for book in books),
        *(api.get(f"/api/v1/books/isbn/{book.isbn13}/") for book in books),
        api.get(f"/api/v1/books/availability/?isbns={isbns}"),
        api.get("/api/v1/books/999999999/"),
    ]
    return [(response.status_code, response.json()) for response in responses]


def test_the_api_answers_the_same_from_dynamodb_as_from_postgres(api, books, settings, hot_table):
    hot_backfill()
    from_dynamodb = answers(api, books)

    settings.DYNAMODB_TABLE = ""
    from_postgres = answers(api, books)

    assert from_dynamodb == from_postgres
    assert from_postgres[0][1]["price"] == "12.50"
    assert [author["name"] for author in from_postgres[0][1]["authors"]] == ["Ursula Le Guin", "Second Hand"]


def test_reads_really_come_from_dynamodb(api, books, hot_table):
    hot_backfill()
    # A change no sync has carried yet: DynamoDB still shows the old price, so it answered.
    Book.objects.filter(pk=books[0].pk).update(price=Decimal("99.00"))

    detail = api.get(f"/api/v1/books/{books[0].pk}/").json()
    availability = api.get(f"/api/v1/books/availability/?isbns={books[0].isbn13}").json()

    assert detail["price"] == "12.50"
    assert availability["results"][0]["price"] == "12.50"


def test_a_book_not_synced_yet_is_read_from_postgres(api, books, hot_table):
    hot_backfill()
    newcomer = BookFactory(price=Decimal("7.00"))  # no sync ran for it

    assert api.get(f"/api/v1/books/{newcomer.pk}/").json()["price"] == "7.00"
    availability = api.get(f"/api/v1/books/availability/?isbns={newcomer.isbn13},{books[0].isbn13}").json()
    assert [row["isbn13"] for row in availability["results"]] == [newcomer.isbn13, books[0].isbn13]


def test_a_hundred_unknown_isbns_are_all_not_found(api, hot_table):
    isbns = [next_isbn13() for _ in range(100)]

    response = api.get(f"/api/v1/books/availability/?isbns={','.join(isbns)}")

    assert response.status_code == 200
    assert response.json() == {"results": [], "not_found": isbns}


def test_bad_isbns_are_refused_before_any_read(api, hot_table):
    assert api.get("/api/v1/books/availability/?isbns=not-an-isbn").status_code == 400
    assert api.get("/api/v1/books/isbn/9780306406158/").status_code == 400
    assert api.get(f"/api/v1/books/{2**64}/").status_code == 404


def test_a_malformed_item_is_answered_from_postgres(api, books, hot_table):
    """An item missing attributes or holding a bad number (a hand edit, an older writer) is not a 500."""
    from catalog.hot import dynamo

    hot_backfill()
    expected = answers(api, books)
    client = dynamo.write_client()
    client.put_item(TableName=hot_table, Item={**dynamo.book_key(books[0].pk), "version": {"N": "1"}})
    client.put_item(
        TableName=hot_table,
        Item={**dynamo.isbn_key(books[0].isbn13), "book_id": {"N": str(books[0].pk)}, "price": {"S": "n/a"}},
    )
    client.put_item(
        TableName=hot_table,
        Item={**dynamo.isbn_key(books[1].isbn13), "isbn13": {"S": books[1].isbn13}, "stock": {"S": "many"}},
    )

    assert answers(api, books) == expected
    assert dynamodb_breaker.state == CLOSED  # bad data, not an outage


def test_a_missing_table_is_answered_from_postgres(api, books, hot_table, settings):
    hot_backfill()
    expected = answers(api, books)
    settings.DYNAMODB_TABLE = "test-hot-no-such-table"

    assert answers(api, books) == expected


def test_throttled_reads_are_answered_from_postgres_without_waiting(api, books, hot_table, settings, monkeypatch):
    from botocore.stub import Stubber

    from catalog.hot import dynamo

    settings.DYNAMODB_BREAKER_FAILURES = 10  # every read asks DynamoDB
    expected = answers(api, books)
    hot_backfill()
    sleeps: list[float] = []
    with Stubber(dynamo.read_client()) as stubber:
        for operation in ("get_item", "get_item", "get_item", "get_item", "batch_get_item", "get_item"):
            stubber.add_client_error(operation, service_error_code="ThrottlingException", http_status_code=400)
        # Any wait would be a sleep: botocore's retries, or our backoff (whose default is bound early).
        monkeypatch.setattr(time, "sleep", sleeps.append)
        original_backoff = dynamo.with_backoff
        monkeypatch.setattr(dynamo, "with_backoff", lambda call, **options: original_backoff(call, sleep=sleeps.append))
        assert answers(api, books) == expected
        stubber.assert_no_pending_responses()

    assert sleeps == []  # no backoff on the request path: each throttled read went to Postgres at once


def test_availability_keys_dynamodb_left_unprocessed_are_answered_from_postgres(api, books, hot_table):
    from botocore.stub import ANY, Stubber

    from catalog.hot import dynamo
    from catalog.hot.records import hot_records

    expected = api.get(f"/api/v1/books/availability/?isbns={books[0].isbn13},{books[1].isbn13}").json()
    first_item = hot_records([books[0].pk])[books[0].pk].items()[1]
    Book.objects.filter(pk=books[1].pk).update(price=Decimal("1.00"))  # Postgres must answer it
    expected["results"][1]["price"] = "1.00"
    answer = {
        "Responses": {hot_table: [first_item]},
        "UnprocessedKeys": {hot_table: {"Keys": [dynamo.isbn_key(books[1].isbn13)]}},
    }
    with Stubber(dynamo.read_client()) as stubber:
        stubber.add_response("batch_get_item", answer, {"RequestItems": ANY})
        response = api.get(f"/api/v1/books/availability/?isbns={books[0].isbn13},{books[1].isbn13}")
        stubber.assert_no_pending_responses()

    assert response.json() == expected


# --- DynamoDB down or hung --------------------------------------------------------------------


@pytest.mark.slow
def test_with_the_server_stopped_the_api_answers_from_postgres_and_the_breaker_opens(api, books, own_moto, settings):
    settings.DYNAMODB_BREAKER_FAILURES = 2
    hot_backfill()
    before = answers(api, books)

    own_moto.stop()
    after = answers(api, books)

    assert after == before
    assert dynamodb_breaker.state == OPEN


def test_an_unreachable_endpoint_is_answered_from_postgres(api, books, hot_table, settings):
    hot_backfill()
    expected = answers(api, books)
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"

    assert answers(api, books) == expected


def test_a_hung_dynamodb_costs_a_read_one_short_timeout_then_nothing(api, books, hot_table, settings, silent_server):
    url, accepted = silent_server
    settings.AWS_ENDPOINT_URL = url
    settings.DYNAMODB_READ_TIMEOUT = 0.2
    settings.DYNAMODB_BREAKER_FAILURES = 2

    timings = []
    for _ in range(4):
        started = time.perf_counter()
        response = api.get(f"/api/v1/books/{books[0].pk}/")
        timings.append(time.perf_counter() - started)
        assert response.json()["price"] == "12.50"

    assert dynamodb_breaker.state == OPEN
    # Waited for the read timeout, and only for it (the bound is loose: a loaded CI machine is slow).
    assert all(0.2 <= seconds < 5.0 for seconds in timings[:2])
    assert len(accepted) == 2  # the open breaker did not even try: no third connection


# --- Readiness --------------------------------------------------------------------------------


@pytest.fixture
def health_token(settings):
    settings.HEALTH_DETAILS_TOKEN = HEALTH_TOKEN


def hot_check(client) -> dict:
    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN)
    assert response.status_code == 200  # never required: the node stays in service
    return response.json()["checks"]["hot_data"]


def test_readiness_is_ok_while_dynamodb_answers(client, health_token, hot_table):
    assert hot_check(client)["status"] == "ok"
    assert dynamodb_breaker.state == CLOSED


def test_readiness_shows_the_open_breaker(client, health_token, hot_table):
    dynamodb_breaker.trip()

    check = hot_check(client)

    assert check["status"] == "degraded"
    assert "circuit breaker open" in check["error"]


def test_readiness_is_degraded_when_the_table_is_missing(client, health_token, settings):
    settings.DYNAMODB_TABLE = "test-hot-no-such-table"

    assert hot_check(client)["status"] == "degraded"


def test_readiness_has_nothing_to_report_without_dynamodb(client, health_token, settings):
    settings.DYNAMODB_TABLE = ""

    assert hot_check(client)["status"] == "ok"
