"""Postgres waits are bounded: statement, lock and idle-in-transaction timeouts on every connection.

Connections with other values are opened the way the app opens them: the settings module is
evaluated for an environment (``settings_for``) and its connection options applied to a copy of
the test database's connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, OperationalError, connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from catalog.maintenance import tables_vacuum_analyze
from catalog.models import Book
from cloudshelf.database import long_running_statements, session_timeouts
from cloudshelf.env import ImproperlyConfiguredEnv
from tests.factories import BookFactory
from tests.test_settings import settings_for

pytestmark = pytest.mark.django_db

TIMEOUT_SETTINGS = {
    "statement_timeout": "DATABASE_STATEMENT_TIMEOUT_MS",
    "lock_timeout": "DATABASE_LOCK_TIMEOUT_MS",
    "idle_in_transaction_session_timeout": "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS",
}


def setting_of(database: BaseDatabaseWrapper, name: str) -> str:
    """The session's value of a Postgres parameter, as SHOW prints it (``15s``, ``0``)."""
    with database.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def milliseconds_of(database: BaseDatabaseWrapper, name: str) -> int:
    with database.cursor() as cursor:
        cursor.execute("SELECT setting::int FROM pg_settings WHERE name = %s", [name])
        return cursor.fetchone()[0]


def sleep_on(database: BaseDatabaseWrapper, seconds: float) -> None:
    with database.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [seconds])


@pytest.fixture
def connection_for(monkeypatch) -> Iterator[Callable[..., BaseDatabaseWrapper]]:
    """Open a connection to the test database as the app would with this environment."""
    opened: list[BaseDatabaseWrapper] = []

    def open_connection(**environment: str) -> BaseDatabaseWrapper:
        options = settings_for(monkeypatch, **environment)["DATABASES"]["default"]["OPTIONS"]
        database = connection.copy()
        # A connection of its own: pools are per alias, and the alias's pool holds connections
        # opened with the suite's options.
        plain = {name: value for name, value in database.settings_dict["OPTIONS"].items() if name != "pool"}
        plain.pop("options", None)  # the suite's: these settings may send none (DATABASE_SESSION_OPTIONS=0)
        if "options" in options:
            plain["options"] = options["options"]
        database.settings_dict["OPTIONS"] = plain
        opened.append(database)
        return database

    yield open_connection
    for database in opened:
        database.close()


def test_every_connection_starts_with_the_configured_timeouts():
    for parameter, setting in TIMEOUT_SETTINGS.items():
        assert milliseconds_of(connection, parameter) == getattr(settings, setting)


def test_the_timeouts_default_to_15_s_5_s_and_a_minute(monkeypatch):
    for setting in TIMEOUT_SETTINGS.values():
        monkeypatch.delenv(setting, raising=False)
    production = settings_for(monkeypatch)
    assert production["DATABASE_STATEMENT_TIMEOUT_MS"] == 15_000
    assert production["DATABASE_LOCK_TIMEOUT_MS"] == 5_000
    assert production["DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS"] == 60_000
    assert production["DATABASES"]["default"]["OPTIONS"]["options"] == (
        "-c statement_timeout=15000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000"
    )


def test_a_statement_running_past_the_statement_timeout_is_cancelled(connection_for):
    database = connection_for(DATABASE_STATEMENT_TIMEOUT_MS="100")
    with pytest.raises(OperationalError, match="canceling statement due to statement timeout"):
        sleep_on(database, 2)


def test_a_lock_wait_past_the_lock_timeout_fails(connection_for):
    holder = connection_for()
    waiter = connection_for(DATABASE_LOCK_TIMEOUT_MS="100", DATABASE_STATEMENT_TIMEOUT_MS="0")
    with holder.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE catalog_book IN ACCESS EXCLUSIVE MODE")
    try:
        with (
            pytest.raises(OperationalError, match="canceling statement due to lock timeout"),
            waiter.cursor() as cursor,
        ):
            cursor.execute("SELECT count(*) FROM catalog_book")
    finally:
        with holder.cursor() as cursor:
            cursor.execute("ROLLBACK")


def test_a_transaction_left_idle_past_the_timeout_is_ended(connection_for):
    database = connection_for(DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS="100")
    with database.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT 1")
    time.sleep(0.5)  # idle inside the transaction, past the 100 ms
    with pytest.raises(DatabaseError, match="idle-in-transaction timeout"), database.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_zero_turns_a_timeout_off(connection_for):
    database = connection_for(DATABASE_STATEMENT_TIMEOUT_MS="0", DATABASE_LOCK_TIMEOUT_MS="0")
    assert setting_of(database, "statement_timeout") == "0"
    assert setting_of(database, "lock_timeout") == "0"


@pytest.mark.parametrize("value", ["15s", "-1", "1.5", "abc"])
def test_a_timeout_that_is_not_whole_milliseconds_stops_the_start(monkeypatch, value):
    with pytest.raises(ImproperlyConfiguredEnv, match="DATABASE_STATEMENT_TIMEOUT_MS"):
        settings_for(monkeypatch, DATABASE_STATEMENT_TIMEOUT_MS=value)


def test_long_running_statements_lift_the_statement_timeout_for_their_block_only():
    configured = setting_of(connection, "statement_timeout")
    with session_timeouts(statement_timeout=100):
        with long_running_statements():
            sleep_on(connection, 0.3)  # past the 100 ms, and not cancelled
            assert setting_of(connection, "statement_timeout") == "0"
            assert setting_of(connection, "idle_in_transaction_session_timeout") == "0"
            assert setting_of(connection, "lock_timeout") != "0"  # maintenance still fails on a long lock wait
        assert setting_of(connection, "statement_timeout") == "100ms"
        with pytest.raises(OperationalError, match="statement timeout"), transaction.atomic():
            sleep_on(connection, 0.3)
    assert setting_of(connection, "statement_timeout") == configured


@pytest.mark.parametrize("bad", [{"statement_timeout": -1}, {"work_mem": 64}, {"lock_timeout": "5s"}])
def test_session_timeouts_refuse_what_is_not_a_timeout_in_milliseconds(bad):
    configured = setting_of(connection, "statement_timeout")
    with pytest.raises(ValueError, match=r"not a timeout parameter|whole milliseconds"), session_timeouts(**bad):
        pass
    assert setting_of(connection, "statement_timeout") == configured


@contextmanager
def statement_timeouts_seen(prefix: str) -> Iterator[list[str]]:
    """The statement_timeout in force when each statement starting with ``prefix`` ran."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        # Not the statements that change the timeout themselves (cloudshelf.database).
        if sql.lstrip().upper().startswith(prefix) and "set_config(" not in sql:
            raw = context["cursor"].cursor  # psycopg's own cursor: no second trip through this wrapper
            raw.execute("SELECT current_setting('statement_timeout')")
            seen.append(raw.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def test_migrate_runs_without_a_statement_timeout():
    with session_timeouts(statement_timeout=100), statement_timeouts_seen("SELECT") as seen:
        call_command("migrate", verbosity=0)
        assert setting_of(connection, "statement_timeout") == "100ms"  # put back afterwards
    assert seen
    assert set(seen) == {"0"}


def test_seed_catalog_runs_without_a_statement_timeout():
    with session_timeouts(statement_timeout=100), statement_timeouts_seen("INSERT") as seen:
        call_command("seed_catalog", books=5, seed=1, verbosity=0)
        assert setting_of(connection, "statement_timeout") == "100ms"
    assert Book.objects.count() == 5
    assert seen
    assert set(seen) == {"0"}


@pytest.mark.django_db(transaction=True)
def test_vacuum_runs_without_a_statement_timeout():
    BookFactory()
    with session_timeouts(statement_timeout=100), statement_timeouts_seen("VACUUM") as seen:
        report = tables_vacuum_analyze([Book])
        assert setting_of(connection, "statement_timeout") == "100ms"
    assert report.tables
    assert seen
    assert set(seen) == {"0"}


@pytest.fixture
def reconnect_with(monkeypatch) -> Iterator[Callable[..., None]]:
    """Reopen this test's own connection as the app would with this environment (transactional tests)."""
    options = connection.settings_dict["OPTIONS"]
    original = options.get("options")

    def close_and_drop_pool() -> None:
        # A pool keeps connections opened with the options it was made with: a new one opens new ones.
        connection.close()
        if connection.pool is not None:
            connection.close_pool()

    def reconnect(**environment: str) -> None:
        close_and_drop_pool()
        options["options"] = settings_for(monkeypatch, **environment)["DATABASES"]["default"]["OPTIONS"]["options"]

    yield reconnect
    close_and_drop_pool()
    options["options"] = original


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("environment", "reason"),
    [
        (
            {"DATABASE_STATEMENT_TIMEOUT_MS": "200", "DATABASE_LOCK_TIMEOUT_MS": "0"},
            "canceling statement due to statement timeout",
        ),
        ({"DATABASE_LOCK_TIMEOUT_MS": "200"}, "canceling statement due to lock timeout"),
    ],
)
def test_a_page_stuck_behind_a_lock_answers_the_500_page_instead_of_waiting(
    client, connection_for, reconnect_with, caplog, environment, reason
):
    BookFactory()
    reconnect_with(**environment)
    holder = connection_for()
    with holder.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("LOCK TABLE catalog_book IN ACCESS EXCLUSIVE MODE")  # as a migration rewriting it would
    client.raise_request_exception = False
    try:
        response = client.get("/books/")
    finally:
        with holder.cursor() as cursor:
            cursor.execute("ROLLBACK")
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    (logged,) = [record for record in caplog.records if record.name == "django.request"]
    assert reason in str(logged.exc_info[1])


def test_session_options_off_sends_no_options_to_the_primary(monkeypatch):
    """Behind RDS Proxy, which refuses startup options: the parameter group holds the timeouts."""
    databases = settings_for(
        monkeypatch,
        DATABASE_SESSION_OPTIONS="0",
        DATABASE_REPLICA_URL="postgres://app:secret@replica.example:5432/shop",
    )["DATABASES"]
    assert "options" not in databases["default"]["OPTIONS"]
    # The replica is reached directly, not through the proxy: it keeps them.
    assert databases["replica"]["OPTIONS"]["options"] == (
        "-c statement_timeout=15000 -c lock_timeout=5000 -c idle_in_transaction_session_timeout=60000"
    )


def test_session_options_default_on_and_send_the_timeouts(monkeypatch):
    for environment in ({"DATABASE_SESSION_OPTIONS": None}, {"DATABASE_SESSION_OPTIONS": "1"}):
        primary = settings_for(monkeypatch, **environment, DATABASE_LOCK_TIMEOUT_MS="700")["DATABASES"]["default"]
        assert primary["OPTIONS"]["options"] == (
            "-c statement_timeout=15000 -c lock_timeout=700 -c idle_in_transaction_session_timeout=60000"
        )


def test_a_session_options_value_that_is_not_a_boolean_stops_the_start(monkeypatch):
    with pytest.raises(ImproperlyConfiguredEnv, match="DATABASE_SESSION_OPTIONS"):
        settings_for(monkeypatch, DATABASE_SESSION_OPTIONS="proxy")


def test_a_connection_without_session_options_gets_the_server_defaults(connection_for):
    database = connection_for(DATABASE_SESSION_OPTIONS="0")
    assert "options" not in database.settings_dict["OPTIONS"]
    with database.cursor() as cursor:
        cursor.execute("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")
        assert cursor.fetchone()[0] == "0"  # the test server's own default: nothing was sent
