"""Keeping the index true: changes queued after commit, bursts batched, rebuilds with an alias swap."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_redis import get_redis_connection
from opensearchpy import helpers

from catalog import services as catalog_services
from catalog.models import Book
from search import services, tasks
from search.client import bulk_client
from search.documents import alias_name
from search.engine import search_books
from search.models import BookSearchDocument
from tests.factories import BookFactory, TagFactory, UserFactory
from tests.search.conftest import indexed_document, refresh_index

pytestmark = pytest.mark.django_db


def test_a_stock_change_reaches_the_index_after_commit(indexed_shelf, django_capture_on_commit_callbacks):
    dune = indexed_shelf.dune
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.inventory_set_stock(book_ids=[dune.pk], stock_on_hand=0)
    refresh_index()

    assert indexed_document(dune.pk)["is_in_stock"] is False
    assert indexed_document(dune.pk)["stock_on_hand"] == 0


def test_nothing_is_queued_for_a_change_that_is_rolled_back(indexed_shelf, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        Book.objects.filter(pk=indexed_shelf.dune.pk).update(price=Decimal("1.00"))  # no event at all

    assert callbacks == []
    assert indexed_document(indexed_shelf.dune.pk)["price"] == 9.99


def test_a_new_review_updates_the_rating_in_the_index(indexed_shelf, django_capture_on_commit_callbacks):
    neuromancer = indexed_shelf.neuromancer
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.review_create(book=neuromancer, user=UserFactory(), rating=5, title="Great", body="Yes.")
    refresh_index()

    # The factory's 100 ratings were not imported ones, so the review's is the only rating left.
    assert indexed_document(neuromancer.pk)["ratings_count"] == 1
    assert indexed_document(neuromancer.pk)["average_rating"] == 5.0


def test_a_deleted_book_leaves_the_index_and_the_fallback(indexed_shelf, django_capture_on_commit_callbacks):
    june_id = indexed_shelf.june.pk
    with django_capture_on_commit_callbacks(execute=True):
        indexed_shelf.june.delete()
    refresh_index()

    assert indexed_document(june_id) is None
    assert not BookSearchDocument.objects.filter(book_id=june_id).exists()
    assert "June" not in [book.title for book in search_books(query="june").books]  # (Jane Austen still matches)


def test_renaming_an_author_reindexes_their_books(indexed_shelf, django_capture_on_commit_callbacks):
    asimov = indexed_shelf.authors["asimov"]
    with django_capture_on_commit_callbacks(execute=True):
        asimov.name = "Isaac Asimov Jr."
        asimov.save()
    refresh_index()

    assert indexed_document(indexed_shelf.foundation.pk)["authors"] == ["Isaac Asimov Jr."]
    assert indexed_document(indexed_shelf.fondation.pk)["authors"] == ["Isaac Asimov Jr."]


def test_renaming_or_deleting_a_tag_reindexes_its_books(indexed_shelf, django_capture_on_commit_callbacks):
    dune = indexed_shelf.dune
    renamed, dropped = TagFactory(name="spice"), TagFactory(name="desert")
    with django_capture_on_commit_callbacks(execute=True):
        dune.tags.add(renamed, dropped)
    refresh_index()
    assert indexed_document(dune.pk)["tags"] == ["desert", "spice"]

    with django_capture_on_commit_callbacks(execute=True):
        renamed.name = "melange"
        renamed.save()  # the admin's change form: no service, no books_changed
        dropped.delete()  # its links go by a cascade that sends no m2m_changed
    refresh_index()

    assert indexed_document(dune.pk)["tags"] == ["melange"]


def test_a_burst_of_changes_becomes_one_task_and_one_bulk_request(indexed_shelf, monkeypatch):
    scheduled = []
    monkeypatch.setattr(tasks.sync_pending_books, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    books = indexed_shelf.books

    for book in books:
        services.search_queue_books(book_ids=[book.pk])

    assert len(scheduled) == 1
    assert scheduled[0]["countdown"] == 1.0
    bulk_calls = []
    real_bulk = helpers.bulk
    monkeypatch.setattr(
        helpers,
        "bulk",
        lambda client, actions, **kw: bulk_calls.append(len(actions)) or real_bulk(client, actions, **kw),
    )

    assert services.search_sync_pending() == len(books)
    assert bulk_calls == [len(books)]


def test_syncing_is_idempotent_and_tolerates_missing_books(indexed_shelf):
    dune = indexed_shelf.dune
    services.search_books_sync(book_ids=[dune.pk, 987654321])
    first = indexed_document(dune.pk)
    services.search_books_sync(book_ids=[dune.pk, 987654321])

    assert indexed_document(dune.pk) == first
    assert indexed_document(987654321) is None


def test_a_failed_sync_puts_the_ids_back_and_schedules_a_retry(indexed_shelf, monkeypatch, settings):
    scheduled = []
    monkeypatch.setattr(tasks.sync_pending_books, "apply_async", lambda **kwargs: scheduled.append(kwargs))
    services.search_queue_books(book_ids=[indexed_shelf.dune.pk])

    def fail(**kwargs):
        raise ConnectionError("OpenSearch is down")

    monkeypatch.setattr(services, "search_books_sync", fail)
    with pytest.raises(ConnectionError):
        services.search_sync_pending()

    redis = get_redis_connection("durable")
    assert redis.smembers(f"{settings.SEARCH_INDEX_PREFIX}sync:pending") == {str(indexed_shelf.dune.pk).encode()}
    assert scheduled[-1]["countdown"] == settings.SEARCH_SYNC_RETRY_SECONDS == 30.0


def test_queueing_never_fails_the_request_that_committed(indexed_shelf, monkeypatch, caplog):
    def broken():
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(services, "sync_redis", broken)

    services.search_queue_books(book_ids=[indexed_shelf.dune.pk])

    assert "could not queue books" in caplog.text


def test_a_task_for_another_index_prefix_is_left_alone(indexed_shelf, monkeypatch):
    monkeypatch.setattr(services, "search_sync_pending", lambda: pytest.fail("must not run"))

    assert tasks.sync_pending_books("someone-elses-") == 0


def test_a_rebuild_swaps_the_alias_to_a_new_index_and_drops_the_old(indexed_shelf, search_index):
    client = bulk_client()
    first = list(client.indices.get_alias(name=alias_name()))

    second = search_index()

    assert list(client.indices.get_alias(name=alias_name())) == [second]
    assert second not in first
    assert not client.indices.exists(index=first[0])
    assert client.count(index=alias_name())["count"] == len(indexed_shelf.books)
    settings = client.indices.get_settings(index=second)[second]["settings"]["index"]
    assert settings["refresh_interval"] == "1s"


def test_searches_keep_working_while_a_rebuild_runs(indexed_shelf, monkeypatch):
    seen_during_build = []

    def progress(stage, count):
        if stage == "index":
            seen_during_build.append(search_books(query="dune").total)

    services.search_index_rebuild(progress=progress)

    assert seen_during_build == [3]  # answered by the old index, through the alias


def test_changes_made_during_a_rebuild_reach_the_new_index(indexed_shelf):
    dune = indexed_shelf.dune

    def progress(stage, count):
        if stage == "index":
            # The build has read Dune already; a sync task runs meanwhile.
            Book.objects.filter(pk=dune.pk).update(price=Decimal("4.99"))
            services.search_books_sync(book_ids=[dune.pk])

    services.search_index_rebuild(progress=progress)
    refresh_index()

    assert indexed_document(dune.pk)["price"] == 4.99


def test_the_rebuild_command_reports_what_it_did(shelf, search_index, capsys):
    call_command("search_index", "--rebuild")

    out = capsys.readouterr().out
    assert f"Indexed {len(shelf.books)} books into {alias_name()}-" in out
    assert f"{len(shelf.books)} fallback rows refreshed" in out


def test_check_reports_no_drift_after_a_rebuild(indexed_shelf, capsys):
    call_command("search_index", "--check", "--all")

    out = capsys.readouterr().out
    assert "Missing from the index: 0" in out
    assert "No drift." in out


def test_check_finds_missing_extra_and_stale_documents_and_fix_repairs_them(indexed_shelf, capsys):
    client = bulk_client()
    client.delete(index=alias_name(), id=str(indexed_shelf.emma.pk), refresh=True)
    client.index(index=alias_name(), id="987654321", body={"id": 987654321, "title": "Ghost"}, refresh=True)
    Book.objects.filter(pk=indexed_shelf.dune.pk).update(price=Decimal("1.23"))  # bypasses every event

    report = services.search_index_check(sample=None)

    assert report.missing_ids == [indexed_shelf.emma.pk]
    assert report.extra_ids == [987654321]
    assert report.stale_ids == [indexed_shelf.dune.pk]
    with pytest.raises(CommandError, match="drifted"):
        call_command("search_index", "--check", "--all")

    call_command("search_index", "--check", "--all", "--fix")
    refresh_index()

    assert not services.search_index_check(sample=None).has_drift
    assert indexed_document(indexed_shelf.dune.pk)["price"] == 1.23


def test_the_fallback_rows_are_checked_too(indexed_shelf):
    BookSearchDocument.objects.filter(book=indexed_shelf.emma).delete()
    unsynced = BookFactory(title="Unsynced")  # created without any event
    Book.objects.filter(pk=indexed_shelf.dune.pk).update(price=Decimal("2.50"))  # bypasses every event

    report = services.search_index_check()

    assert report.fallback_missing_ids == sorted([indexed_shelf.emma.pk, unsynced.pk])
    assert report.fallback_stale_ids == [indexed_shelf.dune.pk]
