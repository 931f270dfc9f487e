"""The Celery worker stopped: book changes wait in the broker and reach the index and DynamoDB when one returns.

A real worker syncs a change, is stopped (as supervisord stops it, or it dies between
deploys), books change meanwhile, and a new worker on the same queue applies every one of
them: the search index (shared OpenSearch, this run's index) and the hot records (moto).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from django.db import transaction
from opensearchpy import OpenSearch
from redis import Redis

from catalog.models import Book
from catalog.services import announce_books_changed, inventory_set_stock
from cloudshelf.celery import app as celery_app
from search.documents import alias_name
from search.services import search_index_rebuild, search_pending_count
from tests.factories import BookFactory
from tests.faults.conftest import wait_for
from tests.hot.conftest import hot_table, stored  # noqa: F401  (a shared fixture)
from tests.workers import real_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def opensearch(settings):
    """A direct client of the shared node; this test's index is deleted afterwards."""
    client = OpenSearch(hosts=[settings.OPENSEARCH_URL], timeout=10)
    yield client
    client.indices.delete(index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True)


@pytest.fixture
def queue():
    """A queue this test's tasks go to whether or not a worker listens on it; emptied afterwards."""
    name = f"test-faults-worker-{uuid.uuid4().hex[:8]}"
    previous = (celery_app.conf.task_always_eager, celery_app.conf.task_default_queue)
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, name
    yield name
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = previous
    broker().delete(name)


def broker() -> Redis:
    """The broker's Redis, where a queue is a list of waiting task messages."""
    return Redis.from_url(celery_app.conf.broker_url, socket_timeout=5)


def indexed_title(client: OpenSearch, book_id: int) -> str | None:
    found = client.get(index=alias_name(), id=str(book_id), ignore=404)
    return found["_source"]["title"] if found.get("found") else None


def test_changes_made_while_no_worker_runs_reach_the_index_and_dynamodb_when_one_returns(
    hot_table,  # noqa: F811
    opensearch,
    queue,
    settings,
):
    dune, messiah = BookFactory(title="Dune", stock=5), BookFactory(title="Dune Messiah", stock=2)
    search_index_rebuild()
    settings.SEARCH_INDEX_DEBOUNCE_SECONDS = 0.2
    environment = {"DYNAMODB_TABLE": hot_table, "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX}
    with real_worker("faults", environment, queue=queue) as worker:
        inventory_set_stock(book_ids=[dune.pk, messiah.pk], stock_on_hand=3)
        wait_for(lambda: all((stored(book.pk) or {}).get("stock") == 3 for book in (dune, messiah)))
        wait_for(lambda: worker.count("search.sync_pending_books", "succeeded") == 1)
    # The worker is stopped. A rename, a stock change and a deletion wait for the next one.
    with transaction.atomic():
        Book.objects.filter(pk=dune.pk).update(title="Dune (40th Anniversary)")
        announce_books_changed([dune.pk])
    inventory_set_stock(book_ids=[messiah.pk], stock_on_hand=0)
    messiah_id = messiah.pk
    messiah.delete()

    waiting = Counter(json.loads(message)["headers"]["task"] for message in broker().lrange(queue, 0, -1))
    assert set(waiting) == {"search.sync_pending_books", "catalog.hot_sync_books"}
    assert waiting["search.sync_pending_books"] == 1  # one debounced sync for the whole burst
    assert search_pending_count() == 2
    assert indexed_title(opensearch, dune.pk) == "Dune"
    assert stored(dune.pk)["title"] == "Dune"
    assert stored(messiah_id)["stock"] == 3

    with real_worker("faults", environment, queue=queue) as worker:
        wait_for(lambda: indexed_title(opensearch, messiah_id) is None and search_pending_count() == 0)
        wait_for(lambda: (stored(messiah_id) or {}).get("deleted") is True)
        wait_for(lambda: broker().llen(queue) == 0)
        worker.assert_alive()

    assert indexed_title(opensearch, dune.pk) == "Dune (40th Anniversary)"
    assert stored(dune.pk)["title"] == "Dune (40th Anniversary)"
    assert stored(dune.pk)["stock"] == 3
