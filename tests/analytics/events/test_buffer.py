"""The analytics buffer: events wait in Redis, one flush per burst writes them in batches, exactly once."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django_redis import get_redis_connection

from analytics import buffer, events
from analytics.models import BookDay, FlushedBatch, SiteDay

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def queued_flushes(monkeypatch):
    """Flush tasks that would go to the broker, recorded instead of sent."""
    from analytics import tasks

    sent = []
    monkeypatch.setattr(tasks.flush_buffer, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


def pending(stream="events"):
    return get_redis_connection("durable").lrange(buffer.pending_key(stream), 0, -1)


def site_day(day=date(2026, 11, 30)):
    row = SiteDay.objects.get(day=day)
    return (row.views, row.adds, row.checkouts, row.orders, row.units, row.revenue)


def test_an_event_is_pushed_to_redis_and_schedules_one_flush(queued_flushes):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)

    assert [json.loads(item) for item in pending()] == [
        {"kind": "product_view", "at": "2026-11-30T10:00:00+00:00", "units": 1, "lines": [[7, 1, "0.00"]]}
    ]
    assert queued_flushes == [
        {"args": ["events", buffer.pending_key("events")], "countdown": buffer.FLUSH_AFTER_SECONDS}
    ]
    assert not SiteDay.objects.exists()


def test_a_burst_of_events_is_one_flush_writing_one_statement_per_table(queued_flushes, django_assert_num_queries):
    for book_id in (7, 7, 8):
        events.record_event("product_view", book_id=book_id, occurred_at=MONDAY)
    events.record_event("add_to_cart", book_id=7, quantity=2, occurred_at=MONDAY)
    events.record_order_event(
        "order_placed", lines=[(7, 2, Decimal("20.00")), (8, 1, Decimal("5.50"))], occurred_at=MONDAY
    )

    assert len(queued_flushes) == 1
    # Savepoint, the batch record, one upsert into SiteDay, one into BookDay, release.
    with django_assert_num_queries(5):
        assert buffer.flush(stream="events") == 5

    assert site_day() == (3, 1, 0, 1, 3, Decimal("25.50"))
    assert sorted(BookDay.objects.values_list("book_id", "views", "adds", "orders", "units", "revenue")) == [
        (7, 2, 1, 1, 2, Decimal("20.00")),
        (8, 1, 0, 1, 1, Decimal("5.50")),
    ]
    assert pending() == []


def test_a_second_flush_adds_to_the_days_counts(queued_flushes):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)
    buffer.flush(stream="events")
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)
    events.record_event("product_view", book_id=7, occurred_at=datetime(2026, 12, 1, 9, tzinfo=UTC))
    buffer.flush(stream="events")

    assert list(BookDay.objects.order_by("day").values_list("day", "views")) == [
        (date(2026, 11, 30), 2),
        (date(2026, 12, 1), 1),
    ]


def test_malformed_items_are_dropped_with_a_warning_and_the_rest_written(queued_flushes, caplog):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)
    redis = get_redis_connection("durable")
    redis.rpush(buffer.pending_key("events"), b"not json", b"[1, 2]")
    redis.rpush(buffer.pending_key("events"), json.dumps({"kind": "refund", "at": MONDAY.isoformat(), "lines": []}))
    redis.rpush(buffer.pending_key("events"), json.dumps({"kind": "product_view", "at": "yesterday", "lines": []}))

    assert buffer.flush(stream="events") == 1

    assert site_day()[0] == 1
    dropped = [message.split(" ")[4] for message in caplog.messages if "dropped a malformed" in message]
    assert dropped == ["events", "events", "event", "event"]  # two by the buffer (not JSON objects), two by the writer


@pytest.mark.parametrize(
    ("kind", "arguments"),
    [
        ("refund", {"book_id": 7}),
        ("product_view", {"book_id": -1}),
        ("product_view", {"book_id": True}),
        ("product_view", {"book_id": "7"}),
        ("add_to_cart", {"book_id": 7, "quantity": 0}),
        ("add_to_cart", {"book_id": 7, "quantity": 10**9}),
        ("order_placed", {"book_id": 7, "amount": Decimal("-1")}),
        ("order_placed", {"book_id": 7, "amount": Decimal("NaN")}),
        ("order_placed", {"book_id": 7, "amount": Decimal("1e30")}),
        ("product_view", {"book_id": 7, "occurred_at": datetime(2026, 11, 30)}),  # naive
    ],
)
def test_a_bad_event_is_dropped_with_a_warning_and_nothing_is_queued(queued_flushes, caplog, kind, arguments):
    events.record_event(kind, **arguments)

    assert pending() == []
    assert queued_flushes == []
    assert f"dropped a {kind!r} event" in caplog.text


def test_an_order_event_with_no_lines_or_too_many_is_dropped(queued_flushes, caplog):
    events.record_order_event("order_placed", lines=[])
    events.record_order_event("order_placed", lines=[(7, 1, Decimal("1"))] * (events.MAX_LINES + 1))

    assert pending() == []
    assert caplog.text.count("dropped a 'order_placed' event") == 2


def test_a_payload_over_the_size_limit_is_refused(queued_flushes, caplog):
    buffer.enqueue("events", {"kind": "product_view", "padding": "x" * buffer.MAX_PAYLOAD_BYTES})

    assert pending() == []
    assert "could not record a events event" in caplog.text


def test_a_stream_without_a_writer_is_refused(caplog):
    buffer.enqueue("nobody-writes-this", {"a": 1})

    assert "no writer registered for stream 'nobody-writes-this'" in caplog.text


@pytest.mark.parametrize("name", ["", "a b", "a{b}", "x:y"])
def test_a_stream_name_must_be_plain(name):
    with pytest.raises(ValueError, match="a stream name"):
        buffer.register_writer(name, events.write_events)


def test_with_redis_down_the_event_is_dropped_with_a_warning_and_the_caller_goes_on(monkeypatch, caplog):
    def down():
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(buffer, "_redis", down)

    events.record_event("product_view", book_id=7)

    assert "could not record a events event" in caplog.text
    assert not SiteDay.objects.exists()


def test_without_redis_the_event_is_written_at_once(settings):
    settings.REDIS_URL = ""

    events.record_event("add_to_cart", book_id=7, occurred_at=MONDAY)

    assert site_day() == (0, 1, 0, 0, 0, Decimal("0.00"))
    assert not FlushedBatch.objects.exists()


def test_a_flush_that_fails_before_its_commit_keeps_the_batch_for_the_next_flush(queued_flushes, monkeypatch):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)

    def broken(payloads):
        raise RuntimeError("the writer broke")

    monkeypatch.setitem(buffer._writers, "events", broken)
    with pytest.raises(RuntimeError):
        buffer.flush(stream="events")
    assert not SiteDay.objects.exists()
    monkeypatch.setitem(buffer._writers, "events", events.write_events)

    assert buffer.flush(stream="events") == 1
    assert site_day()[0] == 1


def test_a_batch_the_writer_keeps_failing_on_is_set_aside_and_the_events_behind_it_flow(
    queued_flushes, monkeypatch, caplog
):
    from django.db import DataError

    events.record_event("product_view", book_id=7, occurred_at=MONDAY)

    def refused(payloads):
        raise DataError("numeric field overflow")

    monkeypatch.setitem(buffer._writers, "events", refused)
    for _ in range(buffer.MAX_BATCH_ATTEMPTS - 1):
        with pytest.raises(DataError):
            buffer.flush(stream="events")  # kept for the next flush
    assert buffer.flush(stream="events") == 0  # the last attempt sets it aside
    redis = get_redis_connection("durable")
    [set_aside] = redis.lrange(buffer.dead_key("events"), 0, -1)
    assert b"product_view" in set_aside
    assert "set aside" in caplog.text
    monkeypatch.setitem(buffer._writers, "events", events.write_events)
    events.record_event("product_view", book_id=8, occurred_at=MONDAY)

    assert buffer.flush(stream="events") == 1
    assert sorted(BookDay.objects.values_list("book_id", "views")) == [(8, 1)]
    assert redis.exists(buffer._sibling(buffer.pending_key("events"), "attempts")) == 0


def test_a_batch_written_after_failures_starts_its_count_again(queued_flushes, monkeypatch):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)

    def broken(payloads):
        raise RuntimeError("the writer broke")

    monkeypatch.setitem(buffer._writers, "events", broken)
    with pytest.raises(RuntimeError):
        buffer.flush(stream="events")
    monkeypatch.setitem(buffer._writers, "events", events.write_events)
    assert buffer.flush(stream="events") == 1

    assert get_redis_connection("durable").exists(buffer._sibling(buffer.pending_key("events"), "attempts")) == 0


def test_a_batch_written_but_not_released_is_not_counted_twice(queued_flushes, monkeypatch):
    events.record_event("product_view", book_id=7, occurred_at=MONDAY)
    monkeypatch.setattr(buffer, "_RELEASE_BATCH", "return 0")  # the flush dies after its commit

    assert buffer.flush(stream="events") == 1
    monkeypatch.undo()
    events.record_event("product_view", book_id=8, occurred_at=MONDAY)

    assert buffer.flush(stream="events") == 1  # the replayed batch is dropped, the new one written
    assert site_day()[0] == 2
    assert sorted(BookDay.objects.values_list("book_id", "views")) == [(7, 1), (8, 1)]
    assert FlushedBatch.objects.count() == 2


def test_events_beyond_one_batch_are_written_in_several(queued_flushes, monkeypatch):
    monkeypatch.setattr(buffer, "FLUSH_BATCH", 2)
    for _ in range(5):
        events.record_event("product_view", book_id=7, occurred_at=MONDAY)

    assert buffer.flush(stream="events") == 5
    assert FlushedBatch.objects.count() == 3
    assert site_day()[0] == 5


@pytest.mark.parametrize("stream", ["events", "search", "rum"])
def test_a_streams_keys_share_one_redis_cluster_slot(stream):
    from redis.crc import key_slot

    pending_key = buffer.pending_key(stream)
    roles = ("processing", "batch", "scheduled", "attempts", "dead")
    keys = [pending_key, *(buffer._sibling(pending_key, role) for role in roles)]

    assert len({key_slot(key.encode()) for key in keys}) == 1
    assert keys[1].endswith(f"{{buffer-{stream}}}:processing")
