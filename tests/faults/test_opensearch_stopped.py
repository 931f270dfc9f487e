"""OpenSearch stopped: customers search the Postgres fallback, and no index change made meanwhile is lost.

The app (gunicorn) and a real Celery worker reach the shared OpenSearch through a fault
proxy; "stopped" is the proxy closing its port, as a stopped node does. Book changes made
during the outage are queued by the worker's failed syncs and written once it is back.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from opensearchpy import OpenSearch

from catalog.models import Book
from catalog.services import announce_books_changed, inventory_set_stock
from search.documents import alias_name
from search.services import search_index_rebuild, search_pending_count
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import BookFactory
from tests.faults.conftest import browser, readiness, wait_for
from tests.faults.proxy import fault_proxy
from tests.workers import real_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENSEARCH = ("127.0.0.1", 59200)


@pytest.fixture
def opensearch(settings):
    """A direct client of the shared node; this test's index is deleted afterwards."""
    client = OpenSearch(hosts=[f"http://{OPENSEARCH[0]}:{OPENSEARCH[1]}"], timeout=10)
    yield client
    client.indices.delete(index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True)


def indexed(client: OpenSearch, book_id: int) -> dict | None:
    found = client.get(index=alias_name(), id=str(book_id), ignore=404)
    return found["_source"] if found.get("found") else None


def test_search_answers_from_postgres_while_opensearch_is_stopped_and_no_change_is_lost(
    app_server, opensearch, settings
):
    dune = BookFactory(title="Dune", stock=4)
    messiah = BookFactory(title="Dune Messiah")
    children = BookFactory(title="Children of Dune")
    search_index_rebuild()
    assert indexed(opensearch, messiah.pk)["title"] == "Dune Messiah"
    settings.SEARCH_INDEX_DEBOUNCE_SECONDS = 0.2
    with fault_proxy(*OPENSEARCH) as proxy:
        fast = {"OPENSEARCH_URL": proxy.url(), "SEARCH_SYNC_RETRY_SECONDS": "0.5", "SEARCH_BREAKER_COOLDOWN": "1"}
        # Every search asks OpenSearch (no kept answers or pages), so the outage is what answers.
        server = app_server(**fast, SEARCH_RESULTS_CACHE_SECONDS="0", PAGE_CACHE_SECONDS="0")
        web = browser(server)
        partner = {"Authorization": f"Bearer {issue_key(PartnerFactory()).raw_key}"}
        with real_worker("faults-opensearch", {**fast, "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX}) as worker:
            before = web.get(f"{server.url}/search/", params={"q": "dune"})
            assert before.headers["X-Search-Backend"] == "opensearch"

            proxy.set_mode("refuse")
            # Changes made during the outage: a rename, a sell-out and a deletion.
            with transaction.atomic():
                Book.objects.filter(pk=children.pk).update(title="Children of Dune (Dune #3)")
                announce_books_changed([children.pk])
            inventory_set_stock(book_ids=[dune.pk], stock_on_hand=0)
            messiah_id = messiah.pk
            messiah.delete()

            pages = [web.get(f"{server.url}/search/", params={"q": "dune"}) for _ in range(5)]
            assert [page.status_code for page in pages] == [200] * 5
            assert {page.headers["X-Search-Backend"] for page in pages} == {"database"}
            # The fallback's rows are written before the index, so it already shows the changes.
            wait_for(lambda: "Children of Dune (Dune #3)" in web.get(f"{server.url}/search/?q=dune").text)
            assert "Dune Messiah" not in web.get(f"{server.url}/search/?q=dune").text
            suggestions = web.get(f"{server.url}/search/autocomplete", params={"q": "dun"})
            assert suggestions.status_code == 200
            assert "Dune" in {title["title"] for title in suggestions.json()["titles"]}
            api = web.get(f"{server.url}/api/v1/search/", params={"q": "dune"}, headers=partner)
            assert api.status_code == 200
            assert api.json()["backend"] == "database"
            assert "Children of Dune (Dune #3)" in {hit["book"]["title"] for hit in api.json()["results"]}
            ready = readiness(server)
            assert ready["status_code"] == 200
            assert ready["checks"]["search"]["status"] == "degraded"
            assert ready["checks"]["breakers"]["breakers"]["opensearch"] == "open"
            wait_for(lambda: search_pending_count() == 3)  # the failed syncs put every id back
            worker.assert_alive()

            proxy.set_mode("pass")
            # Popped ids are written a moment later: wait for the last write, then look at all.
            wait_for(lambda: indexed(opensearch, messiah_id) is None, timeout=30)
            assert search_pending_count() == 0
            assert indexed(opensearch, children.pk)["title"] == "Children of Dune (Dune #3)"
            assert indexed(opensearch, dune.pk)["is_in_stock"] is False
            assert indexed(opensearch, messiah_id) is None

            def answered_by_opensearch():
                page = web.get(f"{server.url}/search/", params={"q": "dune"})
                return page if page.headers["X-Search-Backend"] == "opensearch" else None

            after = wait_for(answered_by_opensearch, timeout=30, interval=0.5)
            assert "Children of Dune (Dune #3)" in after.text
            assert "Dune Messiah" not in after.text
            ready = readiness(server)
            assert ready["checks"]["search"]["status"] == "ok"
            assert ready["checks"]["breakers"]["breakers"]["opensearch"] == "closed"
            worker.assert_alive()
        server.stop()  # while its connections can still close cleanly through the proxy
