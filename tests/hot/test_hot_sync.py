"""Hot records follow Postgres: written after each commit, versioned by the database, never reordered."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F

from catalog import services
from catalog.hot import dynamo, tasks
from catalog.hot.records import hot_records
from catalog.hot.sync import hot_books_sync
from catalog.models import Book, Inventory
from tests.factories import AuthorFactory, BookFactory, ReviewFactory, TagFactory
from tests.hot.conftest import item, stored, wait_for

pytestmark = pytest.mark.django_db


def versions(book: Book) -> int:
    return hot_records([book.pk])[book.pk].version


# --- The version, taken by Postgres inside the writing transaction ----------------------------


def test_every_update_of_the_book_row_raises_the_version_whatever_django_sends():
    book = BookFactory()
    before = versions(book)

    book.title = "A New Title"
    book.save()  # sends the stale in-memory hot_version: the trigger ignores it
    Book.objects.filter(pk=book.pk).update(price=Decimal("5.00"))

    assert versions(book) == before + 2


def test_a_stock_change_by_an_f_update_raises_the_version_without_any_signal():
    book = BookFactory(stock=5)
    before = versions(book)

    Inventory.objects.filter(book=book).update(stock_on_hand=F("stock_on_hand") - 1)  # as checkout does

    assert versions(book) == before + 1
    assert hot_records([book.pk])[book.pk].details.stock_on_hand == 4


def test_a_deleted_and_recreated_stock_row_still_raises_the_version():
    book = BookFactory(stock=5)
    Inventory.objects.filter(book=book).update(stock_on_hand=4)
    before = versions(book)

    Inventory.objects.filter(book=book).delete()  # the admin's delete: the sum must not fall
    without_a_row = versions(book)
    services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=3)  # a new row starts at 1

    assert before < without_a_row < versions(book)


def test_a_stock_row_deleted_in_the_admin_reaches_the_record(hot_table, django_capture_on_commit_callbacks):
    book = BookFactory(stock=5)
    services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=4)
    hot_books_sync(book_ids=[book.pk])

    with django_capture_on_commit_callbacks(execute=True):
        Inventory.objects.get(book=book).delete()  # no service, no books_changed
    assert stored(book.pk)["stock"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=3)
    assert stored(book.pk)["stock"] == 3


def test_the_record_holds_what_the_api_shows_plus_snippets_and_the_page_cover(hot_table):
    book = BookFactory(price=Decimal("12.50"), stock=3)
    book.tags.add(TagFactory(name="glass"))
    for index in range(4):
        ReviewFactory(book=book, body="x" * 300 if index == 3 else f"review {index}")

    hot_books_sync(book_ids=[book.pk])

    values = stored(book.pk)
    assert values["price"] == "12.50"  # a string: exact, never a float
    assert values["stock"] == 3
    assert values["tags"] == ["glass"]
    assert len(values["reviews"]) == 3  # the three newest
    assert values["reviews"][0]["text"] == "x" * 200
    assert values["page_cover_url"] == ""  # no fetched cover: the page draws one
    assert item(dynamo.isbn_key(book.isbn13)) == item(dynamo.book_key(book.pk)) | {"pk": {"S": f"ISBN#{book.isbn13}"}}


# --- Sync after commit ------------------------------------------------------------------------


def test_a_service_change_is_written_after_the_commit(hot_table, django_capture_on_commit_callbacks):
    book = BookFactory(stock=5)

    with django_capture_on_commit_callbacks(execute=True):
        services.inventory_adjust_stock(book_id=book.pk, delta=-2)
        assert stored(book.pk) is None  # nothing before the commit

    assert stored(book.pk)["stock"] == 3


def test_a_rolled_back_change_writes_nothing(hot_table, django_capture_on_commit_callbacks):
    book = BookFactory(stock=5)
    hot_books_sync(book_ids=[book.pk])

    def failing_request() -> None:
        with transaction.atomic():
            services.inventory_adjust_stock(book_id=book.pk, delta=-2)
            raise RuntimeError("the request failed after the change")

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        failing_request()

    assert callbacks == []

    assert stored(book.pk)["stock"] == 5


def test_a_bulk_change_queues_one_task_per_chunk_not_one_per_book(
    hot_table, monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks.hot_sync_books_task, "delay", lambda ids, table: queued.append(ids))

    with django_capture_on_commit_callbacks(execute=True):
        services.announce_books_changed(range(1, tasks.HOT_SYNC_CHUNK * 2 + 2))

    assert [len(ids) for ids in queued] == [tasks.HOT_SYNC_CHUNK, tasks.HOT_SYNC_CHUNK, 1]


def test_nothing_is_queued_without_a_table(settings, monkeypatch, django_capture_on_commit_callbacks):
    settings.DYNAMODB_TABLE = ""
    queued = []
    monkeypatch.setattr(tasks.hot_sync_books_task, "delay", lambda *args: queued.append(args))

    with django_capture_on_commit_callbacks(execute=True):
        services.inventory_adjust_stock(book_id=BookFactory().pk, delta=1)

    assert queued == []


def test_a_change_is_saved_even_when_dynamodb_is_unreachable(hot_table, settings, django_capture_on_commit_callbacks):
    book = BookFactory(stock=5)
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.inventory_adjust_stock(book_id=book.pk, delta=-1)

    assert callbacks  # the sync ran (and failed, logged) after the commit

    assert Inventory.objects.get(book=book).stock_on_hand == 4


def test_a_task_for_another_table_is_left_alone(hot_table):
    book = BookFactory()

    assert tasks.hot_sync_books_task.run([book.pk], "someone-elses-table") == 0
    assert stored(book.pk) is None


def test_a_failed_sync_is_retried_later_with_a_growing_delay(hot_table, settings, monkeypatch):
    book = BookFactory()
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    asked: list[int] = []

    class Retried(Exception):
        pass

    def retry(*, exc: Exception, countdown: int) -> Retried:
        asked.append(countdown)
        return Retried()

    monkeypatch.setattr(tasks.hot_sync_books_task, "retry", retry)

    with pytest.raises(Retried):
        tasks.hot_sync_books_task.run([book.pk], hot_table)

    assert asked == [1]  # first retry after 1 s, then 2, 4 … up to 600 s


# --- Ordering and idempotence ----------------------------------------------------------------


def test_an_older_version_never_overwrites_a_newer_one(hot_table):
    book = BookFactory(price=Decimal("10.00"))
    old = hot_records([book.pk])[book.pk]  # version 1 read now, written late
    services.books_adjust_price(book_ids=[book.pk], percent=Decimal("50"))
    hot_books_sync(book_ids=[book.pk])  # writes the newer record (15.00)
    assert stored(book.pk)["price"] == "15.00"

    from catalog.hot.sync import _put_if_newer

    refused = [_put_if_newer(each) for each in old.items()]

    assert refused == [False, False]  # refused, and that is success: a newer record is there
    assert stored(book.pk)["price"] == "15.00"
    assert int(stored(book.pk)["version"]) > old.version


def test_a_duplicate_sync_writes_nothing_new(hot_table):
    book = BookFactory()
    hot_books_sync(book_ids=[book.pk])
    first = item(dynamo.book_key(book.pk))

    outcome = hot_books_sync(book_ids=[book.pk, book.pk])

    assert item(dynamo.book_key(book.pk)) == first
    assert outcome.deleted == 0


def test_a_deleted_book_leaves_a_tombstone_and_loses_its_isbn_item(hot_table, django_capture_on_commit_callbacks, api):
    book = BookFactory()
    hot_books_sync(book_ids=[book.pk])
    book_id, isbn13 = book.pk, book.isbn13

    with django_capture_on_commit_callbacks(execute=True):
        book.delete()

    assert stored(book_id)["deleted"] is True
    assert item(dynamo.isbn_key(isbn13)) is None
    assert api.get(f"/api/v1/books/{book_id}/").status_code == 404
    assert api.get(f"/api/v1/books/isbn/{isbn13}/").status_code == 404


def test_a_sync_that_read_the_book_before_its_deletion_cannot_bring_it_back(
    hot_table, django_capture_on_commit_callbacks
):
    book = BookFactory()
    read_before = hot_records([book.pk])[book.pk]  # a sync in flight when the book is deleted
    with django_capture_on_commit_callbacks(execute=True):
        book.delete()

    from catalog.hot.sync import _put_if_newer

    by_id, _ = read_before.items()
    assert _put_if_newer(by_id) is False
    assert stored(read_before.details.id)["deleted"] is True


def test_a_changed_isbn_moves_the_isbn_item(hot_table):
    book = BookFactory()
    hot_books_sync(book_ids=[book.pk])
    old_isbn = book.isbn13

    book.isbn13 = "9780306406157"
    book.save()
    hot_books_sync(book_ids=[book.pk])

    assert item(dynamo.isbn_key(old_isbn)) is None
    assert stored(book.pk)["isbn13"] == "9780306406157"
    assert item(dynamo.isbn_key("9780306406157")) is not None


def test_sync_of_no_books_does_nothing_and_a_second_delete_writes_nothing(hot_table):
    assert hot_books_sync(book_ids=[]).written == 0
    assert hot_books_sync(book_ids=[2**40]).deleted == 1  # unknown to Postgres: a tombstone
    assert hot_books_sync(book_ids=[2**40]).deleted == 0  # already one


# --- A real worker ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_writes_the_stock_taken_by_a_checkout_style_update(celery_worker):
    book = BookFactory(stock=7)

    with transaction.atomic():
        Inventory.objects.filter(book=book).update(stock_on_hand=F("stock_on_hand") - 3)
        services.announce_books_changed([book.pk])

    values = wait_for(lambda: (found := stored(book.pk)) and found["stock"] == 4 and found)
    assert int(values["version"]) == versions(book)
    assert celery_worker.count("catalog.hot_sync_books", "succeeded") >= 1


def test_a_renamed_tag_rewrites_the_records_of_its_books(hot_table, django_capture_on_commit_callbacks):
    tag = TagFactory(name="amber")
    book = BookFactory()
    book.tags.add(tag)
    hot_books_sync(book_ids=[book.pk])

    with django_capture_on_commit_callbacks(execute=True):
        tag.name = "glass"
        tag.save()  # the admin's change form: no service, no books_changed

    assert stored(book.pk)["tags"] == ["glass"]


def test_a_deleted_tag_leaves_the_records_of_its_books(hot_table, django_capture_on_commit_callbacks):
    kept, dropped = TagFactory(name="amber"), TagFactory(name="glass")
    book = BookFactory()
    book.tags.add(kept, dropped)
    hot_books_sync(book_ids=[book.pk])

    with django_capture_on_commit_callbacks(execute=True):
        dropped.delete()  # its links go by a cascade that sends no m2m_changed

    assert stored(book.pk)["tags"] == ["amber"]


class _InterleavingClient:
    """The real write client, except that one write runs ``meanwhile()`` first: another task's whole
    sync landing between two steps of this one (what two workers do on a busy queue)."""

    def __init__(self, client, *, before_writing_key: str, meanwhile) -> None:
        self._client, self._key, self._meanwhile = client, before_writing_key, meanwhile

    def __getattr__(self, name: str):
        method = getattr(self._client, name)

        def call(**kwargs):
            written = [kwargs.get("Item")] + [
                step["Put"]["Item"] for step in kwargs.get("TransactItems", []) if "Put" in step
            ]
            if self._meanwhile and any(item and item["pk"]["S"] == self._key for item in written):
                meanwhile, self._meanwhile = self._meanwhile, None
                meanwhile()
            return method(**kwargs)

        return call


def _two_isbn_changes(book):
    """The book's record after its ISBN moved to a first and then a second new ISBN."""
    book.isbn13 = "9780306406157"
    book.save()
    first = hot_records([book.pk])
    book.isbn13 = "9780131103627"
    book.save()
    return first


def test_two_isbn_changes_synced_concurrently_leave_no_isbn_item_behind(hot_table, monkeypatch):
    from catalog.hot import sync

    book = BookFactory()
    hot_books_sync(book_ids=[book.pk])
    old_isbn = book.isbn13
    first = _two_isbn_changes(book)
    real_client = dynamo.write_client
    # A task that read the first change writes while the second change's task is at its id
    # item, which it read stored versions for before the first task wrote.
    late = _InterleavingClient(
        real_client(),
        before_writing_key=f"BOOK#{book.pk}",
        meanwhile=lambda: (
            monkeypatch.setattr(sync, "hot_records", lambda ids: first),
            monkeypatch.setattr(dynamo, "write_client", real_client),
            hot_books_sync(book_ids=[book.pk]),
            monkeypatch.undo(),
        ),
    )
    monkeypatch.setattr(dynamo, "write_client", lambda: late)

    hot_books_sync(book_ids=[book.pk])

    assert stored(book.pk)["isbn13"] == "9780131103627"
    assert item(dynamo.isbn_key("9780131103627")) is not None
    assert item(dynamo.isbn_key("9780306406157")) is None
    assert item(dynamo.isbn_key(old_isbn)) is None


def test_an_isbn_item_of_a_record_overtaken_meanwhile_is_not_written(hot_table, monkeypatch):
    from catalog.hot import sync

    book = BookFactory()
    hot_books_sync(book_ids=[book.pk])
    first = _two_isbn_changes(book)
    real_client = dynamo.write_client
    # The first change's task has written its id item; the second's runs whole before the
    # first writes its ISBN item.
    monkeypatch.setattr(sync, "hot_records", lambda ids: first)
    early = _InterleavingClient(
        real_client(),
        before_writing_key="ISBN#9780306406157",
        meanwhile=lambda: (
            monkeypatch.undo(),
            hot_books_sync(book_ids=[book.pk]),
            monkeypatch.setattr(dynamo, "write_client", lambda: early),
        ),
    )
    monkeypatch.setattr(dynamo, "write_client", lambda: early)

    hot_books_sync(book_ids=[book.pk])
    monkeypatch.undo()

    assert stored(book.pk)["isbn13"] == "9780131103627"
    assert item(dynamo.isbn_key("9780131103627")) is not None
    assert item(dynamo.isbn_key("9780306406157")) is None


def test_an_isbn_item_written_just_before_the_tombstone_is_deleted_with_it(
    hot_table, monkeypatch, django_capture_on_commit_callbacks
):
    from catalog.hot import sync

    book = BookFactory()
    book_id, isbn13 = book.pk, book.isbn13
    read_before = hot_records([book_id])  # a sync in flight when the book is deleted
    real_client = dynamo.write_client
    monkeypatch.setattr(sync, "hot_records", lambda ids: read_before)

    def delete_the_book():
        monkeypatch.undo()
        with django_capture_on_commit_callbacks(execute=True):
            Book.objects.filter(pk=book_id).delete()
        monkeypatch.setattr(dynamo, "write_client", lambda: late)

    late = _InterleavingClient(real_client(), before_writing_key=f"ISBN#{isbn13}", meanwhile=delete_the_book)
    monkeypatch.setattr(dynamo, "write_client", lambda: late)

    hot_books_sync(book_ids=[book_id])
    monkeypatch.undo()

    assert stored(book_id)["deleted"] is True
    assert item(dynamo.isbn_key(isbn13)) is None


def test_a_sync_that_read_a_book_before_a_tag_or_author_edit_cannot_write_over_it(hot_table):
    from catalog.hot.sync import _put_if_newer

    book = BookFactory(authors=[AuthorFactory(name="Ann Leckie")])
    book.tags.add(TagFactory(name="amber"))
    read_before = hot_records([book.pk])[book.pk]  # a sync in flight when the admin edits
    book.tags.add(TagFactory(name="glass"))
    author = book.authors.get()
    author.name = "Ann Leckie (ed.)"
    author.save()
    hot_books_sync(book_ids=[book.pk])

    assert [_put_if_newer(each) for each in read_before.items()] == [False, False]
    assert stored(book.pk)["tags"] == ["amber", "glass"]
    assert stored(book.pk)["authors"][0]["name"] == "Ann Leckie (ed.)"
