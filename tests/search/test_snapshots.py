"""Search index backups on the real node: snapshots, retention, restore after the live index
is lost (searches answered by the Postgres fallback meanwhile), and every refusal.

Each test process has its own snapshot repository (a folder under the node's path.repo),
removed with every snapshot in it afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from opensearchpy import OpenSearch

from catalog.models import Book, Inventory
from cloudshelf.celery import app as celery_app
from search import snapshots
from search.breaker import CLOSED, opensearch_breaker
from search.client import bulk_client
from search.documents import alias_name
from search.models import BookSearchDocument
from search.services import search_books_sync, search_rows_refresh, sync_key, sync_redis
from search.snapshots import SnapshotError
from search.tasks import snapshot_index
from tests.search.conftest import ROOT, indexed_document, wait_for
from tests.workers import real_worker

pytestmark = pytest.mark.django_db

REPOSITORY = f"test{os.getpid()}-snapshots"
SNAPSHOTS_DIR = Path(os.environ.get("OPENSEARCH_DIR", ROOT / "var" / "opensearch")) / "snapshots"


@pytest.fixture(autouse=True)
def snapshot_repository(settings):
    """This process's repository; afterwards every snapshot in it, it and its folder go."""
    settings.SEARCH_SNAPSHOT_REPOSITORY = REPOSITORY
    settings.SEARCH_SNAPSHOT_REPOSITORY_TYPE = "fs"
    settings.SEARCH_SNAPSHOT_REPOSITORY_SETTINGS = {"location": REPOSITORY, "compress": True}
    settings.SEARCH_SNAPSHOT_KEEP = 3
    yield
    node = OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30)
    found = node.snapshot.get(repository=REPOSITORY, snapshot="_all", ignore=404).get("snapshots", [])
    if found:
        node.snapshot.delete(repository=REPOSITORY, snapshot=",".join(item["snapshot"] for item in found))
    node.snapshot.delete_repository(repository=REPOSITORY, ignore=404)
    shutil.rmtree(SNAPSHOTS_DIR / REPOSITORY, ignore_errors=True)


@pytest.fixture
def no_kept_answers(settings):
    """Searches reach a backend every time (kept answers and pages would hide which one answers)."""
    settings.SEARCH_RESULTS_CACHE_SECONDS = 0
    settings.PAGE_CACHE_SECONDS = 0
    settings.SEARCH_BREAKER_COOLDOWN = 0.5


def live_indices() -> list[str]:
    return sorted(bulk_client().indices.get_alias(name=alias_name()))


def indexed_an_hour_ago(build) -> None:
    """The catalog as if written and indexed an hour ago: well before a snapshot taken now (and
    its margin), so only what changes after the snapshot counts as changed since."""
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Book.objects.update(updated_at=an_hour_ago)
    build()
    BookSearchDocument.objects.update(updated_at=an_hour_ago)


def titles(response) -> list[str]:
    return [book.title for book in response.context["result"].books]


# --- Corruption, fallback, restore ---------------------------------------------------------


@pytest.mark.slow
def test_searches_are_answered_by_the_fallback_while_the_index_is_lost_and_by_opensearch_after_a_restore(
    client, indexed_shelf, no_kept_answers, settings, capsys
):
    before = client.get("/search/", {"q": "dune"})
    assert before.context["result"].backend == "opensearch"
    assert titles(before) == ["Dune", "Dune Messiah", "Children of Dune"]
    call_command("search_index", "--snapshot")
    [lost] = live_indices()

    bulk_client().indices.delete(index=lost)  # the corruption: the live index is gone

    for _ in range(settings.SEARCH_BREAKER_FAILURES + 2):
        during = client.get("/search/", {"q": "dune"})
        assert during.status_code == 200
        assert during.context["result"].backend == "database"
        assert titles(during)[0] == "Dune"
        assert set(titles(during)) == {"Dune", "Dune Messiah", "Children of Dune"}
    assert client.get("/search/", {"q": "hobbit"}).context["result"].books[0].title == "The Hobbit"

    call_command("search_index", "--restore")

    [restored] = live_indices()
    assert restored != lost
    assert "now points to it" in capsys.readouterr().out

    def answered_by_opensearch():
        response = client.get("/search/", {"q": "dune"})  # the breaker's half-open probe
        return response if response.context["result"].backend == "opensearch" else None

    after = wait_for(answered_by_opensearch, timeout=10, interval=settings.SEARCH_BREAKER_COOLDOWN)
    assert titles(after) == ["Dune", "Dune Messiah", "Children of Dune"]
    assert opensearch_breaker.state == CLOSED


def test_a_restore_brings_books_changed_since_the_snapshot_up_to_date(shelf, search_index):
    indexed_an_hour_ago(search_index)
    taken = snapshots.search_snapshot_take()
    Book.objects.filter(pk=shelf.dune.pk).update(title="Dune (Restored)", updated_at=timezone.now())
    # A stock change does not move the book's updated_at; the sync rewrote its search row.
    Inventory.objects.filter(book=shelf.hobbit).update(stock_on_hand=0)
    search_rows_refresh(book_ids=[shelf.hobbit.pk])
    gone = shelf.emma.pk
    Book.objects.filter(pk=gone).delete()

    # No contents compared afterwards: what is right below is the rewrite's doing, not the drift fix's.
    report = snapshots.search_snapshot_restore(sample=0)

    assert report.snapshot == taken.name
    assert report.rewritten == 2
    assert report.drift.extra_ids == [gone]
    assert indexed_document(shelf.dune.pk)["title"] == "Dune (Restored)"
    assert indexed_document(shelf.hobbit.pk)["is_in_stock"] is False
    assert indexed_document(gone) is None
    assert bulk_client().count(index=alias_name())["count"] == Book.objects.count()


def test_a_change_synced_while_the_index_is_lost_reaches_the_restored_index(shelf, search_index, monkeypatch):
    indexed_an_hour_ago(search_index)
    snapshots.search_snapshot_take()
    [lost] = live_indices()
    bulk_client().indices.delete(index=lost)
    swap = snapshots.swap_alias

    def change_then_swap(client, index):
        # Mid-restore, before the alias exists again: the sync writes the fallback row and
        # finds no index to write (search_books_sync with no alias).
        Book.objects.filter(pk=shelf.hobbit.pk).update(title="The Hobbit (Annotated)", updated_at=timezone.now())
        search_books_sync(book_ids=[shelf.hobbit.pk])
        return swap(client, index)

    monkeypatch.setattr(snapshots, "swap_alias", change_then_swap)

    report = snapshots.search_snapshot_restore(sample=0)

    assert report.rewritten == 1
    assert indexed_document(shelf.hobbit.pk)["title"] == "The Hobbit (Annotated)"


def test_the_drift_check_after_a_restore_repairs_what_no_timestamp_shows(shelf, search_index):
    indexed_an_hour_ago(search_index)
    snapshots.search_snapshot_take()
    # A stock change whose sync was lost: neither the book nor its search row moved.
    Inventory.objects.filter(book=shelf.dune).update(stock_on_hand=0)

    report = snapshots.search_snapshot_restore()

    assert report.rewritten == 0
    assert report.drift.stale_ids == [shelf.dune.pk]
    assert indexed_document(shelf.dune.pk)["is_in_stock"] is False


def test_a_restore_keeps_the_index_the_alias_left(indexed_shelf):
    snapshots.search_snapshot_take()
    [old] = live_indices()

    report = snapshots.search_snapshot_restore()

    assert report.previous_indices == [old]
    assert live_indices() == [report.index]
    assert bulk_client().indices.exists(index=old)


def test_an_empty_catalog_snapshots_and_restores(db, search_index):
    search_index()
    snapshots.search_snapshot_take()

    report = snapshots.search_snapshot_restore()

    assert report.documents == 0
    assert live_indices() == [report.index]


# --- Snapshots, listing, retention -----------------------------------------------------------


def test_a_snapshot_holds_the_live_index_and_its_document_count(indexed_shelf):
    [live] = live_indices()

    info = snapshots.search_snapshot_take()

    assert info.state == "SUCCESS"
    assert info.index == live
    assert info.documents == len(indexed_shelf.books) == 13
    assert info.name.startswith(f"{alias_name()}-")


def test_retention_keeps_exactly_the_newest_n(indexed_shelf, settings):
    settings.SEARCH_SNAPSHOT_KEEP = 2
    names = [snapshot_index.delay(settings.SEARCH_INDEX_PREFIX).get() for _ in range(4)]

    assert [info.name for info in snapshots.search_snapshots_list()] == names[-2:]


def test_retention_never_touches_another_prefixs_snapshots(indexed_shelf, settings):
    foreign = snapshots.search_snapshot_take().name
    settings.SEARCH_INDEX_PREFIX = f"{settings.SEARCH_INDEX_PREFIX}other-"
    try:
        assert snapshots.search_snapshots_list() == []
        assert snapshots.search_snapshots_prune(keep=1) == []
        with pytest.raises(SnapshotError, match="not a snapshot of this index"):
            snapshots.search_snapshot_restore(name=foreign)
    finally:
        settings.SEARCH_INDEX_PREFIX = settings.SEARCH_INDEX_PREFIX.removesuffix("other-")
    assert [info.name for info in snapshots.search_snapshots_list()] == [foreign]


def test_the_list_shows_name_time_state_size_and_documents(indexed_shelf, capsys):
    info = snapshots.search_snapshot_take()

    call_command("search_index", "--snapshots")

    [header, row] = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["SNAPSHOT", "TAKEN", "(UTC)", "STATE", "SIZE", "DOCS"]
    name, day, clock, state, size, unit, documents = row.split()
    assert (name, f"{day} {clock}", state, unit, documents) == (
        info.name,
        info.started_at.strftime("%Y-%m-%d %H:%M:%S"),
        "SUCCESS",
        "KB",
        "13",
    )
    assert 1 < float(size) < 1024  # thirteen small documents, compressed


def test_the_repository_is_registered_once_and_again_when_its_settings_change(db, settings):
    assert snapshots.search_snapshot_repository_ensure() == REPOSITORY
    assert snapshots.search_snapshot_repository_ensure() == REPOSITORY
    settings.SEARCH_SNAPSHOT_REPOSITORY_SETTINGS = {"location": REPOSITORY, "compress": False}

    snapshots.search_snapshot_repository_ensure()

    registered = bulk_client().snapshot.get_repository(repository=REPOSITORY)[REPOSITORY]
    assert registered == {"type": "fs", "settings": {"location": REPOSITORY, "compress": "false"}}


def test_a_location_outside_path_repo_is_refused_with_the_reason(db, settings):
    settings.SEARCH_SNAPSHOT_REPOSITORY_SETTINGS = {"location": "/etc"}

    with pytest.raises(SnapshotError, match=r"path\.repo"):
        snapshots.search_snapshot_repository_ensure()


# --- OpenSearch down -------------------------------------------------------------------------


@pytest.fixture
def retries_run_again():
    """Eager tasks retry as a worker's do (a retry runs again, here at once) instead of raising ``Retry``."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


def test_the_scheduled_snapshot_logs_and_gives_up_quietly_when_opensearch_is_down(
    db, settings, caplog, retries_run_again
):
    settings.OPENSEARCH_URL = "http://127.0.0.1:9"  # nothing listens there

    with caplog.at_level(logging.WARNING, logger="search.tasks"):
        result = snapshot_index.apply(args=[settings.SEARCH_INDEX_PREFIX])

    assert result.successful()
    assert result.get() is None
    messages = [record.getMessage() for record in caplog.records if record.name == "search.tasks"]
    assert sum("retrying in" in message for message in messages) == 3
    assert "the next scheduled run tries again" in messages[-1]


def test_a_snapshot_task_for_another_prefix_is_left_alone(indexed_shelf):
    assert snapshot_index.delay("someone-else-").get() is None
    assert snapshots.search_snapshots_list() == []


@pytest.mark.parametrize("arguments", [["--snapshot"], ["--snapshots"], ["--restore"]])
def test_the_commands_refuse_clearly_when_opensearch_is_down(db, settings, arguments):
    settings.OPENSEARCH_URL = "http://127.0.0.1:9"

    with pytest.raises(CommandError, match="OpenSearch cannot be reached"):
        call_command("search_index", *arguments)


# --- Refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "_all",
        "*",
        "a,b",
        "../../etc/passwd",
        "Snap-Books",
        "x\n",
        "é",
        "x" * 5000,
        "-books-20260101-000000-000000",
    ],
)
def test_hostile_snapshot_names_are_refused_before_any_request(db, name, monkeypatch, capsys):
    monkeypatch.setattr(snapshots, "bulk_client", lambda: pytest.fail("no request may be sent"))
    with pytest.raises(SnapshotError, match="is not a snapshot"):
        snapshots.check_snapshot_name(name)
    with pytest.raises(CommandError, match="is not a snapshot"):
        call_command("search_index", f"--restore={name}")
    assert capsys.readouterr().out == ""  # not even echoed


def test_a_snapshot_of_another_prefix_is_refused_by_name(indexed_shelf):
    with pytest.raises(CommandError, match="not a snapshot of this index"):
        call_command("search_index", "--restore", "cloudshelf-books-20260101-000000-000000")


def test_an_unknown_snapshot_is_refused_and_nothing_changes(indexed_shelf):
    before = live_indices()

    with pytest.raises(CommandError, match=r"no snapshot .* in repository"):
        call_command("search_index", "--restore", f"{alias_name()}-20200101-000000-000000")

    assert live_indices() == before
    assert sorted(bulk_client().indices.get(index=f"{alias_name()}-*")) == before


def test_restoring_with_no_snapshot_at_all_says_how_to_take_one(indexed_shelf):
    with pytest.raises(CommandError, match=r"no successful snapshot .* --snapshot"):
        call_command("search_index", "--restore")


def test_snapshotting_without_a_live_index_is_refused(db):
    with pytest.raises(CommandError, match="no live index to back up"):
        call_command("search_index", "--snapshot")


def test_a_restore_is_refused_while_a_rebuild_runs_and_nothing_changes(indexed_shelf):
    snapshots.search_snapshot_take()
    before = live_indices()
    sync_redis().set(sync_key("rebuilding"), "a rebuild", ex=60)

    with pytest.raises(CommandError, match=r"rebuild or restore .* is running"):
        call_command("search_index", "--restore")

    assert live_indices() == before
    assert sorted(bulk_client().indices.get(index=f"{alias_name()}-*")) == before


def test_snapshots_turned_off_are_refused(db, settings):
    settings.SEARCH_SNAPSHOT_REPOSITORY = ""

    with pytest.raises(CommandError, match="snapshots are turned off"):
        call_command("search_index", "--snapshots")
    assert snapshot_index.delay(settings.SEARCH_INDEX_PREFIX).get() is None


# --- A real worker ---------------------------------------------------------------------------


def snapshot_worker(settings, **environment: str):
    """A real Celery worker configured like this test (prefix, repository, cache keys)."""
    return real_worker(
        "snapshots",
        {
            "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
            "SEARCH_SNAPSHOT_REPOSITORY": REPOSITORY,
            "SEARCH_SNAPSHOT_REPOSITORY_SETTINGS": json.dumps(settings.SEARCH_SNAPSHOT_REPOSITORY_SETTINGS),
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            **environment,
        },
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_the_scheduled_snapshot(shelf, search_index, settings):
    search_index()
    with snapshot_worker(settings) as log:
        # What beat sends: the task by name, with the prefix as its one argument.
        celery_app.send_task("search.snapshot_index", args=[settings.SEARCH_INDEX_PREFIX])
        wait_for(lambda: log.count("search.snapshot_index", "succeeded"), timeout=20)
    [info] = snapshots.search_snapshots_list()
    assert info.state == "SUCCESS"
    assert info.documents == 13


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_survives_the_snapshot_task_with_opensearch_down(settings):
    with snapshot_worker(settings, OPENSEARCH_URL="http://127.0.0.1:9") as log:
        queue = celery_app.conf.task_default_queue
        celery_app.send_task("search.snapshot_index", args=[settings.SEARCH_INDEX_PREFIX])
        wait_for(lambda: log.count("search index snapshot failed", "retrying in 600 s"), timeout=20)
        wait_for(lambda: log.count("search.snapshot_index", "retry: Retry in 600s"), timeout=10)
        log.assert_alive()
    # The retry waits 10 minutes in this test's queue, which no worker will read again.
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge(queue)
