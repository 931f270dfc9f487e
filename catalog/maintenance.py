"""Database upkeep after bulk writes: ``VACUUM ANALYZE`` of the tables a seed or import wrote.

Why it matters: browse pages read ids through index-only scans, which skip the table only
for pages the visibility map marks all-visible. A freshly loaded table has none, so every
index entry costs a heap visit until autovacuum happens to run (a deep browse page took 21
ms instead of 7.5 ms in issue 9), and without ANALYZE the planner sees an empty table.

Why a second pass may be needed: the local Postgres runs ``synchronous_commit = off``, and
VACUUM may only mark a page all-visible once the hint bits of its rows are set, which
Postgres refuses to do until the WAL of the writing commit (and of the other commits
sharing its clog LSN group) is flushed, within a few hundred milliseconds. A VACUUM right
after a seed therefore left about half of ``catalog_book`` unmarked; a short wait and a
plain VACUUM, which visits only the unmarked pages, finishes the job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, models

from cloudshelf.database import long_running_statements

# Passes of plain VACUUM after the first VACUUM ANALYZE, and the pause before each: long
# enough for the WAL writer (wal_writer_delay, 200 ms by default) to flush the commits.
EXTRA_VACUUM_PASSES = 3
EXTRA_VACUUM_PAUSE_SECONDS = 0.3


@dataclass(frozen=True)
class TableVisibility:
    """How much of a table index-only scans can read without visiting it, after a VACUUM."""

    table: str
    pages: int
    all_visible_pages: int

    @property
    def is_all_visible(self) -> bool:
        return self.all_visible_pages >= self.pages

    @property
    def all_visible_percent(self) -> float:
        return 100.0 if not self.pages else 100.0 * self.all_visible_pages / self.pages


@dataclass(frozen=True)
class VacuumReport:
    """What ``tables_vacuum_analyze`` did: the tables and their visibility, or why it did nothing."""

    tables: tuple[TableVisibility, ...] = ()
    passes: int = 0
    seconds: float = 0.0
    skipped_reason: str = ""

    def describe(self) -> str:
        """One line for a management command's output."""
        if self.skipped_reason:
            return f"VACUUM ANALYZE skipped: {self.skipped_reason}."
        partial = [table for table in self.tables if not table.is_all_visible]
        visibility = (
            "every page all-visible"
            if not partial
            else "not yet all-visible (autovacuum will finish): "
            + ", ".join(f"{table.table} {table.all_visible_percent:.0f}%" for table in partial)
        )
        return (
            f"VACUUM ANALYZE of {len(self.tables)} tables ({', '.join(table.table for table in self.tables)}) "
            f"in {self.seconds:.1f} s, {self.passes} pass{'es' if self.passes != 1 else ''}: {visibility}."
        )


def tables_vacuum_analyze(tables_of: Sequence[type[models.Model]]) -> VacuumReport:
    """``VACUUM (ANALYZE)`` the tables of ``tables_of`` on Postgres, until their pages are all-visible.

    Then up to ``EXTRA_VACUUM_PASSES`` plain VACUUMs of the tables still partly unmarked
    (see the module docstring), each after a short pause; a table someone keeps writing to
    may stay partly unmarked, which the report says. Does nothing, and says why, on another
    database or inside a transaction (VACUUM cannot run in one; tests that are not
    ``transaction=True`` run inside one).
    """
    if connection.vendor != "postgresql":
        return VacuumReport(skipped_reason=f"the database is {connection.vendor}, not Postgres")
    if connection.in_atomic_block:
        return VacuumReport(skipped_reason="inside a transaction")
    started = time.monotonic()
    tables = list(dict.fromkeys(str(model._meta.db_table) for model in tables_of))
    # A VACUUM of 100,000 books runs longer than a request's statement timeout.
    with long_running_statements():
        _vacuum(tables, analyze=True)
        visibility = _visibility(tables)
        passes = 1
        while passes <= EXTRA_VACUUM_PASSES:
            unmarked = [table.table for table in visibility if not table.is_all_visible]
            if not unmarked:
                break
            time.sleep(EXTRA_VACUUM_PAUSE_SECONDS)
            _vacuum(unmarked, analyze=False)
            visibility = _visibility(tables)
            passes += 1
    return VacuumReport(tables=tuple(visibility), passes=passes, seconds=time.monotonic() - started)


def _vacuum(tables: Sequence[str], *, analyze: bool) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{', '.join(quote(table) for table in tables)}")


def _visibility(tables: Sequence[str]) -> list[TableVisibility]:
    """Pages and all-visible pages of each table, as the VACUUM just recorded them in ``pg_class``."""
    with connection.cursor() as cursor:
        # to_regclass resolves each name through the search path, as the VACUUM did.
        cursor.execute(
            "SELECT t.name, c.relpages, c.relallvisible FROM unnest(%s::text[]) AS t(name) "
            "JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))",
            [list(tables)],
        )
        found = {name: (pages, visible) for name, pages, visible in cursor.fetchall()}
    return [TableVisibility(table, *found.get(table, (0, 0))) for table in tables]
