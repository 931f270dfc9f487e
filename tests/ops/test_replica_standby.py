"""The router against the real streaming standby (scripts/postgres.sh replica-start; make test starts it).

pytest-django points the ``replica`` alias at this run's test database on the standby
(``TEST["MIRROR"]``): rows the tests write on the primary reach it by streaming replication,
a little later, exactly as in production. Lag is made real by pausing WAL replay on the
standby (``pg_wal_replay_pause()``, always resumed); an unreachable replica is the alias
pointed at a closed port or at a peer that accepts connections and never answers.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.signals import request_started
from django.db import connections, reset_queries
from django.http import HttpRequest
from django.template import engines
from django.template.response import TemplateResponse
from django.test import Client
from django.urls import path

from catalog.models import Book
from catalog.services import announce_books_changed
from cloudshelf import db_router
from cloudshelf.database import session_timeouts
from tests.factories import BookFactory, CategoryFactory, ReviewFactory
from tests.ops.hung_peer import HungPeer

pytestmark = [
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
    pytest.mark.slow,
]

ROOT = Path(__file__).resolve().parents[2]
REPLICA_SOCKET_DIR = ROOT / "var" / "run" / "postgres-replica"
REVIEW = {"rating": "5", "title": "Read it in one sitting", "body": "Then again."}


@pytest.fixture(autouse=True)
def _replica_in_use(settings):
    """Each test starts with fresh knowledge of the replica and no kept pages between it and the router."""
    assert "replica" in settings.DATABASES, "make test sets DATABASE_REPLICA_URL (scripts/env.mk TEST_ENV)"
    settings.PAGE_CACHE_SECONDS = 0  # each GET renders its page (the kept-page rule is tested on its own)
    db_router.forget_replica_state()
    yield
    db_router.forget_replica_state()


def superuser_sql_on_standby(sql: str) -> str:
    """Run ``sql`` as the postgres superuser on the standby (replay control needs it)."""
    port = str(connections["replica"].settings_dict["PORT"])
    command = [
        shutil.which("psql") or "psql",
        "-h",
        str(REPLICA_SOCKET_DIR),
        "-p",
        port,
        "-d",
        "postgres",
        "-XAtqc",
        sql,
    ]
    result = subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True, timeout=15, cwd="/", check=True
    )
    return result.stdout.strip()


def primary_wal_position() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()")
        return str(cursor.fetchone()[0])


def wait_for_standby(position: str, *, function: str = "pg_last_wal_replay_lsn", timeout: float = 15) -> None:
    """Until the standby has replayed (or received) the primary's WAL up to ``position``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connections["replica"].cursor() as cursor:
            cursor.execute(f"SELECT {function}() >= %s::pg_lsn", [position])
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"the standby did not reach {position} ({function}) within {timeout} s")


def wait_until_replayed() -> None:
    wait_for_standby(primary_wal_position())


@contextmanager
def replay_paused() -> Iterator[None]:
    """WAL replay paused on the standby: it receives the primary's writes and applies none."""
    superuser_sql_on_standby("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        superuser_sql_on_standby("SELECT pg_wal_replay_resume()")


@contextmanager
def replica_alias_at(port: int) -> Iterator[None]:
    """The replica alias pointed at ``port`` on loopback (nothing there, or a hung peer)."""
    replica = connections["replica"]
    original = replica.settings_dict["PORT"]
    replica.close()
    replica.close_pool()  # a pool keeps the address it was made with
    replica.settings_dict["PORT"] = port
    try:
        yield
    finally:
        replica.close()
        replica.close_pool()
        replica.settings_dict["PORT"] = original


@contextmanager
def queries_on(alias: str) -> Iterator[list[str]]:
    """The SQL run on ``alias`` in the block (unlike CaptureQueriesContext, never connects by itself)."""
    connection = connections[alias]
    was_forced, start = connection.force_debug_cursor, len(connection.queries_log)
    connection.force_debug_cursor = True
    request_started.disconnect(reset_queries)  # a request would empty the log halfway
    run: list[str] = []
    try:
        yield run
    finally:
        request_started.connect(reset_queries)
        connection.force_debug_cursor = was_forced
        run.extend(query["sql"] for query in list(connection.queries_log)[start:])


def get_with_queries(client: Client, path: str) -> tuple[int, str, list[str], list[str]]:
    """GET ``path``: status, page, and the book queries each database answered."""
    with queries_on("default") as primary, queries_on("replica") as replica:
        response = client.get(path)
    books_on_primary = [sql for sql in primary if '"catalog_book"' in sql]
    books_on_replica = [sql for sql in replica if '"catalog_book"' in sql]
    return response.status_code, response.content.decode(), books_on_primary, books_on_replica


def page_of(book: Book) -> str:
    return f"/books/{book.isbn13}/{book.slug}/"


@pytest.fixture
def book() -> Book:
    book = BookFactory(title="Replicated Dune", slug="replicated-dune", price=Decimal("12.00"))
    wait_until_replayed()
    return book


def test_the_replica_alias_is_a_real_standby_of_this_test_database():
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), current_database(), inet_server_port()")
        in_recovery, database, port = cursor.fetchone()
    assert in_recovery is True
    assert database == connections["default"].settings_dict["NAME"]
    assert (
        port == int(connections["replica"].settings_dict["PORT"]) != int(connections["default"].settings_dict["PORT"])
    )


def test_anonymous_catalog_pages_are_read_from_the_standby(client, book):
    status, page, on_primary, on_replica = get_with_queries(client, page_of(book))

    assert status == 200
    assert "Replicated Dune" in page
    assert on_replica
    assert on_primary == []
    assert db_router.replica_state().is_usable


def test_a_visitor_reads_their_own_write_at_once_while_others_read_the_standby(customer_client, book, settings):
    # A generous lag bound: only the read-your-writes pin may keep this visitor off the replica.
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
    with replay_paused():
        response = customer_client.post(f"/reviews/new/{book.isbn13}/", REVIEW)
        assert response.status_code == 302
        assert db_router.PIN_COOKIE_NAME in response.cookies
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")  # there, not applied

        status, page, on_primary, on_replica = get_with_queries(customer_client, page_of(book))
        assert status == 200
        assert "Read it in one sitting" in page
        assert on_primary
        assert on_replica == []

        # Proof that the standby really lacks it: a visitor who wrote nothing reads there.
        status, page, on_primary, on_replica = get_with_queries(Client(), page_of(book))
        assert status == 200
        assert "Read it in one sitting" not in page
        assert on_replica
        assert on_primary == []
    wait_until_replayed()
    assert "Read it in one sitting" in Client().get(page_of(book)).content.decode()


def test_a_refused_post_does_not_pin_the_visitor(customer, book):
    strict_client = Client(enforce_csrf_checks=True)
    strict_client.force_login(customer)
    response = strict_client.post(f"/reviews/new/{book.isbn13}/", REVIEW)  # no CSRF token: refused
    assert response.status_code == 403
    assert db_router.PIN_COOKIE_NAME not in response.cookies
    status, _, on_primary, on_replica = get_with_queries(strict_client, page_of(book))
    assert (status, on_primary, bool(on_replica)) == (200, [], True)


def test_reads_go_to_the_primary_while_the_standby_lags_beyond_the_bound(client, book, settings):
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0.3
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 0
    with replay_paused():
        Book.objects.filter(pk=book.pk).update(price=Decimal("7.50"))
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")
        time.sleep(0.5)  # now more than the bound behind

        status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
        assert status == 200
        assert "7.50" in page  # the primary's answer, not the standby's 12.00
        assert on_primary
        assert on_replica == []
        state = db_router.replica_state()
        assert state.is_up
        assert state.lag_seconds is not None
        assert state.lag_seconds > 0.3
    wait_until_replayed()
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5  # caught up (0.3 s is tight for a busy shared machine)

    status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
    assert (status, "7.50" in page, bool(on_replica), bool(on_primary)) == (200, True, True, False)


def test_pages_work_while_the_replica_is_down_and_it_is_tried_once(client, book, settings, caplog):
    settings.DATABASE_REPLICA_DOWN_MEMO_SECONDS = 60
    with HungPeer(hang_up=True).running() as peer, replica_alias_at(peer.port):
        for _ in range(5):
            status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
            assert (status, "Replicated Dune" in page, bool(on_primary), on_replica) == (200, True, True, [])
        tried = peer.accepted
    # One failed connection, remembered: the four pages after it did not knock again.
    assert tried == 1
    assert sum("replica down" in record.message for record in caplog.records) == 1


def test_a_hung_replica_costs_one_connect_timeout_per_process_not_one_per_request(client, book, settings):
    settings.DATABASE_REPLICA_DOWN_MEMO_SECONDS = 60
    connect_timeout = connections["replica"].settings_dict["OPTIONS"]["connect_timeout"]
    with HungPeer().running() as peer, replica_alias_at(peer.port):
        started = time.perf_counter()
        assert client.get(page_of(book)).status_code == 200
        first = time.perf_counter() - started
        tried_by_the_first_page = peer.accepted
        for _ in range(5):
            assert client.get(page_of(book)).status_code == 200
        tried_by_the_next_five = peer.accepted - tried_by_the_first_page
    # The first page waited for the connect timeout (it bounds the wait: a hung replica never
    # hangs a page), and the five after it never knocked on the replica again.
    assert connect_timeout - 0.5 < first
    assert (tried_by_the_first_page, tried_by_the_next_five) == (1, 0)


def test_the_replica_is_tried_again_after_the_memo(client, book, settings):
    settings.DATABASE_REPLICA_DOWN_MEMO_SECONDS = 0.2
    with socket_nobody_listens_on() as port, replica_alias_at(port):
        assert client.get(page_of(book)).status_code == 200
        assert not db_router.replica_state().is_up
    time.sleep(0.3)
    status, _, on_primary, on_replica = get_with_queries(client, page_of(book))
    assert (status, bool(on_replica), on_primary) == (200, True, [])


@contextmanager
def replica_connections_lost(settings) -> Iterator[None]:
    """The router trusts the replica, and every connection it holds there is gone (the next query meets the loss)."""
    settings.DATABASE_REPLICA_LAG_CHECK_SECONDS = 60  # the router trusts its last look at the replica
    replica = connections["replica"]
    replica.close()
    replica.close_pool()
    replica.settings_dict["CONN_HEALTH_CHECKS"] = False  # no ping before the query: the query meets the loss
    try:
        assert db_router.replica_state().is_usable
        with replica.cursor() as cursor:
            cursor.execute("SELECT 1")  # a connection open to lose
        if replica.settings_dict["OPTIONS"].get("pool"):
            replica.close()  # back to its pool, where it waits for the next request
        # Every connection of this test database on the standby (a pool may hold more than one);
        # the timeout makes each call wait until its backend is gone.
        database = replica.settings_dict["NAME"]
        superuser_sql_on_standby(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
        )
        yield
    finally:
        replica.settings_dict["CONN_HEALTH_CHECKS"] = True
        replica.close()
        replica.close_pool()


def test_a_replica_connection_lost_mid_request_is_answered_from_the_primary(client, book, settings):
    with replica_connections_lost(settings):
        status, page, on_primary, _ = get_with_queries(client, page_of(book))

        assert (status, "Replicated Dune" in page, bool(on_primary)) == (200, True, True)
        assert not db_router.replica_state().is_up


def lazy_book_titles(request: HttpRequest) -> TemplateResponse:
    """A view whose catalog query runs while its template renders, after the view has returned."""
    template = engines["django"].from_string("{% for book in books %}{{ book.title }};{% endfor %}")
    return TemplateResponse(request, template, {"books": Book.objects.order_by("pk")})


PRIMARY_TIMEOUT_CALLS: list[int] = []


def replica_read_then_a_primary_timeout(request: HttpRequest) -> TemplateResponse:
    """A view that reads the replica, then meets the primary's statement timeout."""
    PRIMARY_TIMEOUT_CALLS.append(1)
    list(Book.objects.order_by("pk")[:1])
    with session_timeouts(statement_timeout=50), connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2)")
    raise AssertionError("the statement timeout did not cancel the query")


urlpatterns = [
    path("lazy-book-titles/", lazy_book_titles),
    path("replica-read-then-a-primary-timeout/", replica_read_then_a_primary_timeout),
]


@pytest.mark.urls(__name__)
def test_a_replica_connection_lost_while_a_template_response_renders_is_answered_from_the_primary(
    client, book, settings
):
    # Django renders a TemplateResponse after the view; the answer given again from the
    # primary must be rendered too, or the next middleware meets an unrendered response.
    with replica_connections_lost(settings):
        status, page, on_primary, _ = get_with_queries(client, "/lazy-book-titles/")

        assert (status, "Replicated Dune" in page, bool(on_primary)) == (200, True, True)
        assert not db_router.replica_state().is_up


def test_a_page_kept_by_the_page_cache_is_rendered_from_a_replica_that_has_every_commit(client, book, settings):
    settings.PAGE_CACHE_SECONDS = 600
    settings.DATABASE_REPLICA_FENCE_WAIT_SECONDS = 10  # the shared primary never stops writing
    status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
    assert (status, "Replicated Dune" in page, bool(on_replica), on_primary) == (200, True, True, [])


def test_a_page_kept_while_the_replica_lacks_a_change_is_rendered_from_the_primary(client, book, settings):
    settings.PAGE_CACHE_SECONDS = 600
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600  # usable for every other read: only the fence says no
    settings.DATABASE_REPLICA_FENCE_WAIT_SECONDS = 0.2
    with replay_paused():
        Book.objects.filter(pk=book.pk).update(price=Decimal("7.50"))
        announce_books_changed([book.pk])  # the page cache takes a change number, noting the position
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")

        status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
        assert (status, "7.50" in page, bool(on_primary), on_replica) == (200, True, True, [])
        response = client.get(page_of(book))  # the kept copy: the price the customer just set
        assert (response["X-Page-Cache"], "7.50" in response.content.decode()) == ("hit", True)
    wait_until_replayed()


def test_a_page_kept_is_rendered_from_a_replica_behind_on_writes_no_page_counts(client, book, settings):
    """The fence asks for the position noted at the last change pages count, not the primary's
    latest: WAL written since (autovacuum, analytics batches, a raw update) does not hold it up."""
    settings.PAGE_CACHE_SECONDS = 600
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
    settings.DATABASE_REPLICA_FENCE_WAIT_SECONDS = 0.2
    Book.objects.filter(pk=book.pk).update(title="Replicated Dune, Revised")
    announce_books_changed([book.pk])  # a change pages count: the position is noted
    other = BookFactory(title="Not on this page")
    wait_until_replayed()
    with replay_paused():
        Book.objects.filter(pk=other.pk).update(price=Decimal("1.00"))  # WAL the replica has not replayed
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")

        status, page, on_primary, on_replica = get_with_queries(client, page_of(book))
    assert (status, "Replicated Dune, Revised" in page, bool(on_replica)) == (200, True, True)
    assert not [sql for sql in on_primary if "catalog_book" in sql]
    wait_until_replayed()


@pytest.mark.urls(__name__)
def test_a_failure_of_the_primary_is_not_answered_again_because_the_replica_was_read(book):
    """Only a replica failure is worth a second run from the primary: a query the primary
    cancelled would be run (and waited for) twice, for the same error."""
    PRIMARY_TIMEOUT_CALLS.clear()
    client = Client(raise_request_exception=False)
    status, _, _, on_replica = get_with_queries(client, "/replica-read-then-a-primary-timeout/")

    assert (status, bool(on_replica), len(PRIMARY_TIMEOUT_CALLS)) == (500, True, 1)
    assert db_router.replica_state().is_up


def test_a_fragment_kept_while_the_replica_lacks_a_commit_made_after_the_fence_is_not_reused(
    client, book, settings, monkeypatch
):
    """A review committed after the render's fence passed, which the replica has not replayed:
    the reviews fragment rendered without it must not be kept as having seen it."""
    settings.PAGE_CACHE_SECONDS = 600
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600  # usable throughout: only the fence decides
    settings.DATABASE_REPLICA_FENCE_WAIT_SECONDS = 10  # the shared primary never stops writing
    ReviewFactory(book=book, title="First to review")
    wait_until_replayed()
    fence = db_router.replica_has_every_commit_so_far

    def fence_then_a_review_the_replica_does_not_replay(position: int | None = None) -> bool:
        passed = fence(position)
        superuser_sql_on_standby("SELECT pg_wal_replay_pause()")

        def write() -> None:  # another visitor's request: outside this one's routing context
            try:
                ReviewFactory(book=book, title="Late but fair")
            finally:
                connections.close_all()

        writer = threading.Thread(target=write)
        writer.start()
        writer.join()
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")
        return passed

    monkeypatch.setattr(db_router, "replica_has_every_commit_so_far", fence_then_a_review_the_replica_does_not_replay)
    try:
        status, page, _, on_replica = get_with_queries(client, page_of(book))
        assert (status, "First to review" in page, "Late but fair" in page, bool(on_replica)) == (
            200,
            True,
            False,
            True,
        )
    finally:
        superuser_sql_on_standby("SELECT pg_wal_replay_resume()")
    monkeypatch.setattr(db_router, "replica_has_every_commit_so_far", fence)
    wait_until_replayed()

    page = client.get(page_of(book)).content.decode()  # the kept page is retired by the review
    assert ("First to review" in page, "Late but fair" in page) == (True, True)


def test_catalog_reads_kept_in_the_shared_cache_are_read_from_the_primary(client, book, settings):
    """A category renamed while the replica lags: the navigation cached by another visitor's
    page must not be the old tree (it would be kept, and put into kept pages, for minutes)."""
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600  # usable throughout
    shelf = CategoryFactory(name="Dusty Shelf", slug="dusty-shelf")
    wait_until_replayed()
    with replay_paused():
        shelf.name = "Polished Shelf"
        shelf.save()  # clears the cached tree, at once and after the commit
        wait_for_standby(primary_wal_position(), function="pg_last_wal_receive_lsn")

        status, page, _, on_replica = get_with_queries(client, page_of(book))
        assert (status, "Polished Shelf" in page, bool(on_replica)) == (200, True, True)
    wait_until_replayed()

    page = client.get(page_of(book)).content.decode()
    assert ("Polished Shelf" in page, "Dusty Shelf" in page) == (True, False)


@contextmanager
def socket_nobody_listens_on() -> Iterator[int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield port


def replica_health(client: Client, settings) -> tuple[int, dict]:
    settings.HEALTH_DETAILS_TOKEN = "replica-health-token"
    response = client.get("/health/ready", HTTP_X_HEALTH_TOKEN="replica-health-token")
    return response.status_code, response.json()["checks"]


def test_readiness_reports_the_replicas_lag(client, settings):
    status, checks = replica_health(client, settings)
    assert status == 200
    assert checks["replica"]["status"] == "ok"
    assert 0 <= checks["replica"]["lag_seconds"] <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS


def test_readiness_is_degraded_not_failed_while_only_the_replica_is_down(client, settings):
    with socket_nobody_listens_on() as port, replica_alias_at(port):
        status, checks = replica_health(client, settings)
    assert status == 200
    assert checks["database"]["status"] == "ok"
    assert checks["replica"]["status"] == "degraded"
    assert checks["replica"]["error"].startswith("replica down, reads on the primary")
    assert checks["replica"]["required"] is False
