"""Bounded waits on Postgres, and the way long maintenance work steps outside them.

Every connection starts with ``statement_timeout``, ``lock_timeout`` and
``idle_in_transaction_session_timeout`` (settings ``DATABASE_*_TIMEOUT_MS``, sent as
connection ``options``; behind RDS Proxy, which refuses those, ``DATABASE_SESSION_OPTIONS=0``
and the RDS parameter group sets them), so a runaway query, a lock queue behind a migration or a
transaction left open cannot hold a request — or a connection slot — for longer than that.

Migrations, ``VACUUM``, imports, the seed and index rebuilds legitimately run statements
for minutes: they run inside ``long_running_statements()``, which lifts the statement and
idle-in-transaction timeouts for their own session only and puts the previous values back
afterwards. ``lock_timeout`` stays: maintenance that cannot get its lock in time should fail
and be retried rather than queue every customer's query behind it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models

# The session settings a block may change, and whose previous values it puts back.
TIMEOUT_PARAMETERS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
# Set on a psycopg connection while blocks have its timeouts changed (how many), so that the
# pool's reset can put them back if the connection is returned before the blocks could.
_BLOCKS_CHANGING_TIMEOUTS = "_cloudshelf_blocks_changing_timeouts"


def connection_timeout_options(*, statement_ms: int, lock_ms: int, idle_in_transaction_ms: int) -> str:
    """The libpq ``options`` string that starts each session with these timeouts (0 = off)."""
    values = {
        "statement_timeout": statement_ms,
        "lock_timeout": lock_ms,
        "idle_in_transaction_session_timeout": idle_in_transaction_ms,
    }
    return " ".join(f"-c {name}={milliseconds}" for name, milliseconds in values.items())


@contextmanager
def session_timeouts(*, using: str = DEFAULT_DB_ALIAS, **milliseconds: int) -> Iterator[None]:
    """Run the block with some of this session's timeouts changed, e.g. ``statement_timeout=0``.

    Only maintenance uses it (through ``long_running_statements()``: management commands, also
    when the deploy's manage Lambda runs them, and the VACUUM they run), never a request or task:
    a session-level SET pins the RDS Proxy connection to this client until it closes, which a
    one-off command can afford and a request cannot.

    Keyword names are Postgres parameters (``TIMEOUT_PARAMETERS``); values are milliseconds,
    0 meaning no limit. The previous values are restored afterwards (not RESET, so blocks may
    nest). Does nothing on databases other than Postgres (the embedded SQLite has no such
    timeouts).
    """
    unknown = set(milliseconds) - set(TIMEOUT_PARAMETERS)
    if unknown:
        raise ValueError(f"not a timeout parameter: {', '.join(sorted(unknown))}")
    if any(not isinstance(value, int) or isinstance(value, bool) or value < 0 for value in milliseconds.values()):
        raise ValueError("timeouts are whole milliseconds, 0 or more")
    connection = connections[using]
    if connection.vendor != "postgresql" or not milliseconds:
        yield
        return
    with connection.cursor() as cursor:
        previous = {}
        for name, value in milliseconds.items():
            # set_config(…, false) is SET: for the session (or, inside a transaction, until
            # it ends; a rollback puts the old value back by itself).
            cursor.execute("SELECT current_setting(%s), set_config(%s, %s, false)", [name, name, f"{value}ms"])
            previous[name] = cursor.fetchone()[0]
    changed = connection.connection
    setattr(changed, _BLOCKS_CHANGING_TIMEOUTS, getattr(changed, _BLOCKS_CHANGING_TIMEOUTS, 0) + 1)
    try:
        yield
    finally:
        # Closed: a new connection starts with the configured values, and a pooled one got
        # them back from the pool's reset (reset_changed_timeouts). Inside a failed atomic
        # block: its rollback puts them back.
        if connection.connection is changed and not connection.needs_rollback:
            try:
                with connection.cursor() as cursor:
                    for name, value in previous.items():
                        cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
                setattr(changed, _BLOCKS_CHANGING_TIMEOUTS, getattr(changed, _BLOCKS_CHANGING_TIMEOUTS, 1) - 1)
            except DatabaseError:
                # Never leave a connection without its limits: drop it instead. Closed first,
                # so that a pool discards it rather than handing it to the next request.
                connection.connection.close()
                connection.close()


def reset_changed_timeouts(raw_connection: Any) -> None:
    """The connection pool's ``reset``: a connection returned while a block had its timeouts
    changed (closed inside ``long_running_statements()``) gets the configured ones back.

    ``RESET`` restores the session's starting values, the ones sent as connection ``options``.
    Every other returned connection costs one attribute lookup, no round trip.
    """
    if getattr(raw_connection, _BLOCKS_CHANGING_TIMEOUTS, 0):
        for name in TIMEOUT_PARAMETERS:
            raw_connection.execute(f"RESET {name}")
        setattr(raw_connection, _BLOCKS_CHANGING_TIMEOUTS, 0)


@contextmanager
def long_running_statements(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Lift the statement and idle-in-transaction timeouts for maintenance (migrate, VACUUM, imports).

    A context manager, and a decorator (``@long_running_statements()`` on a command's ``handle``).
    """
    with session_timeouts(using=using, statement_timeout=0, idle_in_transaction_session_timeout=0):
        yield


def release_connection(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Give this thread's connection back to the pool before a slow network call.

    With a pool (``DATABASE_POOL``) a request holds its connection from its first query to
    its end, so a request waiting seconds on a payment provider would hold one of the
    process's few connections and make other requests queue for it. Outside a transaction
    the connection can go back to the pool now; the next query takes one again (a few
    microseconds). Without a pool, or inside ``atomic``, nothing happens: closing would cost
    a reconnect, or break the transaction.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    if connection.settings_dict["OPTIONS"].get("pool") and connection.connection is not None:
        connection.close()


def rows_insert(model: type[models.Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert plain tuples into ``model``'s table: ``COPY`` on Postgres, ``executemany`` elsewhere.

    For the seed commands: building and saving 100,000 model instances costs more than the
    database work. Values must already be what the columns hold.
    """
    fields_by_name = {model_field.name: model_field for model_field in model._meta.concrete_fields}
    fields = [fields_by_name[name] for name in field_names]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(str(model_field.column)) for model_field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * len(fields))
        prepared = [
            [model_field.get_db_prep_save(value, connection) for model_field, value in zip(fields, row, strict=True)]
            for row in rows
        ]
        cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", prepared)
