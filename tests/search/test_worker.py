"""Indexing through a real Celery worker (a subprocess on Redis), not in-process tasks."""

import pytest

from catalog import services as catalog_services
from catalog.models import Book
from search.engine import search_books
from tests.factories import BookFactory
from tests.search.conftest import indexed_document, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_real_worker_indexes_a_burst_of_changes_with_one_task(search_index, celery_worker):
    books = [BookFactory(title=f"Burst {index}") for index in range(20)]
    search_index()

    for book in books:  # twenty transactions, twenty books_changed events
        catalog_services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=0)

    wait_for(lambda: all(not (indexed_document(book.pk) or {}).get("is_in_stock", True) for book in books))
    # The debounce gathered the burst: far fewer tasks than changes (one, unless the
    # machine was slow enough to split the burst).
    wait_for(lambda: celery_worker.count("search.sync_pending_books[", "succeeded") >= 1)  # logged after the bulk
    assert 1 <= celery_worker.count("search.sync_pending_books[", "received") <= 3


def test_a_real_worker_removes_a_deleted_book(search_index, celery_worker):
    keep, remove = BookFactory(title="Keeper"), BookFactory(title="Goner")
    search_index()

    Book.objects.filter(pk=remove.pk).delete()

    # Generous: the worker shares two cores with the rest of the suite.
    wait_for(lambda: indexed_document(remove.pk) is None, timeout=40)
    assert indexed_document(keep.pk)["title"] == "Keeper"
    wait_for(lambda: search_books(query="goner").total == 0)
