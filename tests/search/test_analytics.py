"""Analytics records every search off the request path, and only by listening (analytics app)."""

import json

import pytest
from django_redis import get_redis_connection

from analytics import buffer, services
from analytics.models import SearchLog
from cloudshelf.celery import app as celery_app
from search.engine import search_books
from search.params import SearchFilters
from search.services import search_rows_refresh
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _database_search(settings):
    settings.OPENSEARCH_URL = ""  # the search backend does not matter here


@pytest.fixture
def queued_flushes(monkeypatch):
    """Flush tasks that would go to the broker, recorded instead of sent."""
    from analytics import tasks

    sent = []
    monkeypatch.setattr(tasks.flush_buffer, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


def test_a_search_is_buffered_in_redis_not_written_on_the_request(queued_flushes):
    search_rows_refresh(book_ids=[BookFactory(title="Dune").pk])

    search_books(query="dune", filters=SearchFilters(in_stock=True))

    assert SearchLog.objects.count() == 0
    raw = get_redis_connection("durable").lrange(services.search_log_key(), 0, -1)
    event = json.loads(raw[0])
    assert event["query"] == "dune"
    assert event["filters"] == {"in_stock": ["1"]}
    assert event["result_count"] == 1
    assert event["is_zero_result"] is False
    assert event["backend"] == "database"
    assert event["latency_ms"] > 0
    assert queued_flushes == [
        {"args": ["search", services.search_log_key()], "countdown": services.FLUSH_AFTER_SECONDS}
    ]


def test_a_burst_of_searches_schedules_one_flush_that_writes_them_all(queued_flushes):
    for query in ["dune", "emma", "nothing-matches-this"]:
        search_books(query=query)

    assert len(queued_flushes) == 1
    assert services.search_logs_flush(key=services.search_log_key()) == 3
    assert list(SearchLog.objects.order_by("id").values_list("query", "result_count", "is_zero_result")) == [
        ("dune", 0, True),
        ("emma", 0, True),
        ("nothing-matches-this", 0, True),
    ]


def test_with_eager_tasks_the_log_is_written_at_once(settings):
    celery_app.conf.task_always_eager = True
    try:
        search_books(query="emma", page=1)
    finally:
        celery_app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER

    log = SearchLog.objects.get()
    assert (log.query, log.result_count, log.is_zero_result, log.sort, log.page) == ("emma", 0, True, "relevance", 1)


def test_a_broken_analytics_store_never_breaks_a_search(monkeypatch, caplog):
    def down():
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(buffer, "_redis", down)

    assert search_books(query="dune").backend == "database"
    assert "could not record a search event" in caplog.text
