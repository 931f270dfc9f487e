"""The relevance suite's catalog: the dev catalog in a database and index of its own, built once.

The dev catalog is 100,000 synthetic books (``seed_catalog --books 100000 --seed 1``) plus
the real books of ``data/goodbooks-dev.csv`` (``import_books``). ``relevance_catalog_prepare``
brings a dedicated database (``cloudshelf_relevance`` under ``make relevance``) and index
prefix (``relevance-``) up to date, each step only when needed, so a second run costs
seconds: create the database, migrate, seed an empty catalog, import the CSV's missing
books, and rebuild the index and the fallback rows when they were built from another
mapping, another version of the code that writes them, or another catalog (a fingerprint
kept in ``var/relevance/``, beside the index name it describes).

It seeds and re-indexes, so it refuses any database or index prefix whose name does not
say ``relevance``: it must never touch the shop's own catalog.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Max
from opensearchpy.exceptions import NotFoundError
from psycopg import sql

from catalog.models import Book
from search import documents, services
from search.client import bulk_client, is_configured
from search.documents import alias_name, book_index

SYNTHETIC_BOOKS = 100_000
SYNTHETIC_SEED = 1
DEV_CATALOG_CSV = Path(settings.BASE_DIR) / "data" / "goodbooks-dev.csv"
DEDICATED_MARK = "relevance"
# Held on the database for the whole build: a second `make relevance` (or the CI test
# beside a developer's run) waits instead of seeding or indexing the same catalog twice.
BUILD_LOCK_ID = 0x5245_4C45  # "RELE"
# Whatever changes what the index or the fallback rows hold: rebuild when it changes.
INDEXING_SOURCES = (Path(documents.__file__), Path(services.__file__))


class CatalogError(RuntimeError):
    """The dedicated catalog cannot be built here (wrong database or prefix, a step failed)."""


@dataclass(frozen=True)
class BuildStep:
    """One step of the build: what it found or did, and how long it took."""

    name: str
    outcome: str
    seconds: float


def relevance_catalog_prepare(
    *, reindex: bool = False, say: Callable[[str], None] = print, verbosity: int = 1
) -> list[BuildStep]:
    """Bring the dedicated catalog up to date (see the module docstring); ``reindex`` forces the index rebuild."""
    database = str(connection.settings_dict["NAME"])
    prefix = settings.SEARCH_INDEX_PREFIX
    if connection.vendor != "postgresql":
        raise CatalogError("the relevance catalog needs Postgres (the fallback it scores is Postgres full text)")
    if DEDICATED_MARK not in database or DEDICATED_MARK not in prefix:
        raise CatalogError(
            f"refusing to seed and re-index database {database!r} with index prefix {prefix!r}: both names must "
            f"contain {DEDICATED_MARK!r} (run it through `make relevance`, or pass --no-build to score as is)"
        )
    if not is_configured():
        raise CatalogError("OPENSEARCH_URL is not set: the suite scores OpenSearch and the fallback")
    steps: list[BuildStep] = []

    def step(name: str, action: Callable[[], str]) -> None:
        say(f"[{name}] …")
        started = time.perf_counter()
        outcome = action()
        steps.append(BuildStep(name=name, outcome=outcome, seconds=round(time.perf_counter() - started, 1)))
        say(f"[{name}] {outcome} ({steps[-1].seconds:.1f} s)")

    step("database", _database_create_if_missing)
    with _build_lock():
        step("migrate", lambda: _migrate(verbosity))
        step("seed", lambda: _seed(verbosity))
        step("import", lambda: _import(verbosity))
        step("index", lambda: _index(reindex=reindex, verbosity=verbosity))
    return steps


def _server_parameters() -> dict[str, Any]:
    """psycopg connection parameters of the configured database's server."""
    settings_dict = connection.settings_dict
    return {
        "host": settings_dict["HOST"] or None,
        "port": settings_dict["PORT"] or None,
        "user": settings_dict["USER"] or None,
        "password": settings_dict["PASSWORD"] or None,
        "connect_timeout": 5,
    }


def _database_create_if_missing() -> str:
    name = str(connection.settings_dict["NAME"])
    with psycopg.connect(dbname="postgres", autocommit=True, **_server_parameters()) as server:
        if server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return f"{name} exists"
        try:
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:  # created meanwhile by a concurrent build
            return f"{name} exists"
    return f"{name} created"


@contextmanager
def _build_lock() -> Iterator[None]:
    """A session advisory lock on the dedicated database, on a connection of its own."""
    name = str(connection.settings_dict["NAME"])
    with psycopg.connect(dbname=name, autocommit=True, **_server_parameters()) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [BUILD_LOCK_ID])
        yield  # closing the connection releases the lock, even after a failed step


def _migrate(verbosity: int) -> str:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if not plan:
        return "up to date"
    call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))
    return f"applied {len(plan)} migrations"


def _seed(verbosity: int) -> str:
    if Book.objects.exists():
        return "catalog not empty: kept"
    call_command("seed_catalog", books=SYNTHETIC_BOOKS, seed=SYNTHETIC_SEED, verbosity=verbosity)
    return f"seeded {SYNTHETIC_BOOKS:,} synthetic books (seed {SYNTHETIC_SEED})"


def _import(verbosity: int) -> str:
    """Import the CSV unless its books are present: all of them, or all the importer accepted last time.

    The importer rejects a few real rows (a publication year before 1400, more than 20
    authors), which are therefore never present; the state file remembers how many of the
    CSV's books an import of this very file left, so a second run does not import again.
    """
    content = DEV_CATALOG_CSV.read_bytes()
    isbns = [row["isbn13"] for row in csv.DictReader(io.StringIO(content.decode("utf-8")))]
    present = _present(isbns)
    imported: dict[str, Any] = {"sha256": hashlib.sha256(content).hexdigest(), "present": present}
    state = _state()
    if present == len(isbns) or state.get("imported") == imported:
        return f"{present:,} of the {len(isbns):,} books of {DEV_CATALOG_CSV.name} present: kept"
    try:
        call_command("import_books", str(DEV_CATALOG_CSV), verbosity=verbosity)
    except CommandError as error:
        # Rows the importer rejects are reported above; the others loaded.
        if "rejected" not in str(error):
            raise
    imported["present"] = _present(isbns)
    _state_save(state | {"imported": imported})
    rejected = len(isbns) - int(imported["present"])
    return (
        f"{imported['present']:,} of the {len(isbns):,} books of {DEV_CATALOG_CSV.name} present ({rejected} rejected)"
    )


def _present(isbns: list[str]) -> int:
    return Book.objects.filter(isbn13__in=isbns).count()


def _state_path() -> Path:
    return Path(settings.DATA_DIR) / "relevance" / f"{connection.settings_dict['NAME']}.{alias_name()}.json"


def _state() -> dict[str, Any]:
    """What the last build left (the CSV import, the index and its fingerprint); {} on a fresh clone."""
    try:
        state = json.loads(_state_path().read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _state_save(state: dict[str, Any]) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def catalog_fingerprint() -> str:
    """What the index and fallback rows were built from: mapping, indexing code, migrations, catalog."""
    latest = Book.objects.aggregate(latest=Max("updated_at"))["latest"]
    applied = sorted(f"{app}.{name}" for app, name in MigrationExecutor(connection).recorder.applied_migrations())
    described = json.dumps(
        {
            "mapping": book_index("x").to_dict(),
            "sources": [hashlib.sha256(path.read_bytes()).hexdigest() for path in INDEXING_SOURCES],
            "migrations": applied,
            "books": Book.objects.count(),
            "latest_change": latest.isoformat() if latest else None,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(described.encode()).hexdigest()


def _live_index() -> str | None:
    """The concrete index behind this prefix's alias, or None."""
    try:
        return next(iter(bulk_client().indices.get_alias(name=alias_name())), None)
    except NotFoundError:
        return None


def _index(*, reindex: bool, verbosity: int) -> str:
    fingerprint = catalog_fingerprint()
    state = _state()
    live = _live_index()
    if not reindex and live is not None and (state.get("index"), state.get("fingerprint")) == (live, fingerprint):
        return f"{live} is current"
    if reindex:
        reason = "--reindex"
    elif live is None:
        reason = "no index"
    elif state.get("index") == live:
        reason = "built from another mapping, indexing code or catalog"
    else:
        reason = "not built by this suite"
    call_command("search_index", rebuild=True, verbosity=verbosity)
    live = _live_index()
    _state_save(state | {"index": live, "fingerprint": fingerprint})
    return f"rebuilt {live} ({reason})"
