"""Backups of the search index: snapshots of the live books index, and restoring one.

The architecture's answer to "search index corruption" is backups plus the SQL fallback:
while the index is broken or gone, searches are answered by Postgres (``search.engine``);
a restore brings OpenSearch back without the hours a rebuild of a large catalog takes.

* ``search_snapshot_repository_ensure`` registers ``SEARCH_SNAPSHOT_REPOSITORY`` (idempotent):
  ``fs`` under the local node's ``path.repo``, ``s3`` when deployed.
* ``search_snapshot_take`` snapshots the one index behind this prefix's alias, named
  ``<prefix>books-<UTC timestamp>``; ``search_snapshots_prune`` keeps the newest
  ``SEARCH_SNAPSHOT_KEEP`` successful ones of this prefix and deletes the rest of ours.
* ``search_snapshot_restore`` restores a snapshot into a *new* index, checks it, brings it
  up to date from the database and swaps the alias to it atomically. It deletes nothing:
  the index the alias left stays until ``search_index --cleanup``.

Only snapshots whose name carries this ``SEARCH_INDEX_PREFIX`` (and whose metadata names
its alias) are ever listed, pruned or restored, so stacks and test runs sharing a
repository never touch each other's backups.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from catalog.models import Book
from search.client import bulk_client, is_configured
from search.documents import alias_name, category_infos, new_index_name
from search.models import BookSearchDocument
from search.result_cache import search_results_changed
from search.services import (
    REBUILD_MARKER_SECONDS,
    SYNC_BATCH_SIZE,
    DriftReport,
    alias_exists,
    bulk_write_books,
    replay_changed_books,
    search_books_sync,
    search_index_check,
    swap_alias,
    sync_key,
    sync_redis,
)

logger = logging.getLogger(__name__)

# Books whose search row or record changed this long before a snapshot began are written
# again after a restore: a sync writes the row first and the index a moment later, so a
# change just before the snapshot may have missed it.
CHANGE_MARGIN = timedelta(minutes=5)
# How often a running snapshot is asked how far it got.
POLL_SECONDS = 0.25
# Snapshots taken before giving up when the document count keeps moving under them.
SNAPSHOT_ATTEMPTS = 3
# A restored index must reach yellow (every primary shard started) within this.
HEALTH_TIMEOUT_SECONDS = 60
# Snapshot names OpenSearch accepts and we write: lower case, digits, dots, dashes.
_SNAPSHOT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,199}")
_TIMESTAMP = r"\d{8}-\d{6}-\d{6}"
_TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S-%f"


class SnapshotError(Exception):
    """A snapshot or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    state: str  # SUCCESS, IN_PROGRESS, PARTIAL, FAILED, INCOMPATIBLE
    started_at: datetime
    index: str  # the concrete index it holds
    documents: int | None  # documents of that index when it was taken (None: not recorded)
    size_bytes: int | None = None  # filled in by search_snapshots_list(with_sizes=True)


@dataclass(frozen=True)
class RestoreReport:
    snapshot: str
    index: str
    documents: int
    rewritten: int  # books changed since the snapshot, written again from the database
    previous_indices: list[str]  # what the alias pointed to before (kept, not deleted)
    drift: DriftReport
    seconds: float


# --- Names -------------------------------------------------------------------------------


def _own_name_pattern() -> re.Pattern[str]:
    return re.compile(rf"{re.escape(alias_name())}-{_TIMESTAMP}")


def snapshot_name(now: datetime | None = None) -> str:
    """A new snapshot's name: this prefix's alias and the UTC time to the microsecond (sortable)."""
    return f"{alias_name()}-{(now or datetime.now(UTC)).strftime(_TIMESTAMP_FORMAT)}"


def check_snapshot_name(name: str) -> str:
    """``name`` if it is one of this prefix's snapshot names; else ``SnapshotError`` saying why.

    Runs before any request, so a hostile name (``_all``, ``*``, ``a,b``, ``../x``) never
    reaches OpenSearch, where wildcards and lists would select other snapshots.
    """
    shown = name if len(name) <= 80 else f"{name[:80]}…"
    if not _SNAPSHOT_NAME.fullmatch(name):
        raise SnapshotError(f"{shown!r} is not a snapshot name (lower-case letters, digits, '.', '-', '_')")
    if not _own_name_pattern().fullmatch(name):
        raise SnapshotError(
            f"{shown!r} is not a snapshot of this index ({alias_name()}-YYYYMMDD-HHMMSS-ffffff, "
            f"SEARCH_INDEX_PREFIX={settings.SEARCH_INDEX_PREFIX!r}); `search_index --snapshots` lists them"
        )
    return name


# --- Repository --------------------------------------------------------------------------


def _repository() -> str:
    if not settings.SEARCH_SNAPSHOT_REPOSITORY:
        raise SnapshotError("SEARCH_SNAPSHOT_REPOSITORY is empty: search index snapshots are turned off")
    if not is_configured():
        raise SnapshotError("OPENSEARCH_URL is not set: there is no search index to back up")
    return str(settings.SEARCH_SNAPSHOT_REPOSITORY)


def _stringly(values: dict[str, Any]) -> dict[str, str]:
    """Repository settings as OpenSearch echoes them back (every value a string, booleans lower case)."""
    return {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in values.items()}


def search_snapshot_repository_ensure(client: OpenSearch | None = None) -> str:
    """Register ``SEARCH_SNAPSHOT_REPOSITORY`` unless it already is, as configured; returns its name.

    Re-registering verifies the repository on every node, so it is skipped when the
    registered type and settings already match.
    """
    repository = _repository()
    client = client or bulk_client()
    kind: str = settings.SEARCH_SNAPSHOT_REPOSITORY_TYPE
    options: dict[str, Any] = settings.SEARCH_SNAPSHOT_REPOSITORY_SETTINGS
    # A missing repository answers 404 (then its body has no entry for it): not an error here.
    current = client.snapshot.get_repository(repository=repository, ignore=404).get(repository, {})
    if current.get("type") == kind and _stringly(current.get("settings", {})) == _stringly(options):
        return repository
    try:
        client.snapshot.create_repository(repository=repository, body={"type": kind, "settings": options})
    except TransportError as error:
        if error.status_code in (400, 500):
            hint = (
                " The node must list the folder in path.repo (scripts/opensearch.sh sets "
                "var/opensearch/snapshots: restart a node started before that with stop, then start)."
                if kind == "fs"
                else " Is the repository-s3 plugin installed, and may the node reach the bucket?"
            )
            raise SnapshotError(
                f"OpenSearch refused to register snapshot repository {repository!r}: {error}.{hint}"
            ) from None
        raise
    logger.info("registered search snapshot repository %s (%s)", repository, kind)
    return repository


# --- Listing -----------------------------------------------------------------------------


def _info(raw: dict[str, Any]) -> SnapshotInfo:
    metadata = raw.get("metadata") or {}
    documents = metadata.get("documents")
    return SnapshotInfo(
        name=raw["snapshot"],
        state=raw.get("state", "UNKNOWN"),
        started_at=datetime.fromtimestamp(raw.get("start_time_in_millis", 0) / 1000, tz=UTC),
        index=str(metadata.get("index") or next(iter(raw.get("indices") or []), "")),
        documents=int(documents) if isinstance(documents, int) else None,
    )


def _is_ours(raw: dict[str, Any]) -> bool:
    """Named for this prefix and, by its own metadata, taken of this prefix's alias."""
    metadata = raw.get("metadata") or {}
    return bool(_own_name_pattern().fullmatch(raw.get("snapshot", ""))) and metadata.get("alias") == alias_name()


def search_snapshots_list(*, with_sizes: bool = False, client: OpenSearch | None = None) -> list[SnapshotInfo]:
    """This prefix's snapshots in the repository, oldest first (``with_sizes``: one more request)."""
    client = client or bulk_client()
    repository = search_snapshot_repository_ensure(client)
    found = client.snapshot.get(
        repository=repository, snapshot=f"{alias_name()}-*", params={"ignore_unavailable": "true"}
    )
    infos = sorted((_info(raw) for raw in found.get("snapshots", []) if _is_ours(raw)), key=lambda i: i.started_at)
    if not with_sizes or not infos:
        return infos
    sizes: dict[str, int] = {}
    for start in range(0, len(infos), 50):  # names go into the URL: a bounded number per request
        names = ",".join(info.name for info in infos[start : start + 50] if info.state != "IN_PROGRESS")
        if names:
            status = client.snapshot.status(
                repository=repository, snapshot=names, params={"ignore_unavailable": "true"}
            )
            for item in status.get("snapshots", []):
                sizes[item["snapshot"]] = int(item.get("stats", {}).get("total", {}).get("size_in_bytes", 0))
    return [
        SnapshotInfo(
            name=i.name,
            state=i.state,
            started_at=i.started_at,
            index=i.index,
            documents=i.documents,
            size_bytes=sizes.get(i.name),
        )
        for i in infos
    ]


# --- Taking and pruning ---------------------------------------------------------------------


def _live_index(client: OpenSearch) -> str:
    if not alias_exists(client):
        raise SnapshotError(
            f"there is no live index to back up: alias {alias_name()} does not exist "
            "(run `search_index --rebuild`, or `--restore` a snapshot)"
        )
    indices = sorted(client.indices.get_alias(name=alias_name()))
    if len(indices) != 1:
        raise SnapshotError(f"alias {alias_name()} points at {len(indices)} indices ({', '.join(indices)}), not one")
    return indices[0]


def _wait_for_snapshot(
    client: OpenSearch, repository: str, name: str, progress: Callable[[int, int], None] | None
) -> dict[str, Any]:
    """Poll the snapshot until it ends (``progress(done_bytes, total_bytes)`` on the way); its final info."""
    deadline = time.monotonic() + settings.SEARCH_SNAPSHOT_TIMEOUT
    while True:
        # The snapshot's own record, not _status: that says SUCCESS once the shards are
        # copied, while the snapshot is still being finalized in the repository.
        info = client.snapshot.get(repository=repository, snapshot=name)["snapshots"][0]
        if info["state"] != "IN_PROGRESS":
            return dict(info)
        if progress:
            stats = client.snapshot.status(repository=repository, snapshot=name)["snapshots"][0].get("stats", {})
            done = stats.get("processed", stats.get("incremental", {})).get("size_in_bytes", 0)
            progress(int(done), int(stats.get("total", {}).get("size_in_bytes", 0)))
        if time.monotonic() > deadline:
            raise SnapshotError(
                f"snapshot {name} still running after {settings.SEARCH_SNAPSHOT_TIMEOUT} s "
                "(SEARCH_SNAPSHOT_TIMEOUT); it goes on in the cluster: see `search_index --snapshots`"
            )
        time.sleep(POLL_SECONDS)


def search_snapshot_take(*, progress: Callable[[int, int], None] | None = None) -> SnapshotInfo:
    """Snapshot the index behind this prefix's alias and wait for it; raises ``SnapshotError`` unless it succeeded.

    The snapshot's metadata records the alias, the index and its document count, which a
    restore checks the restored index against. A count that moved while the snapshot ran
    (a book added or deleted meanwhile) would make that check refuse a good snapshot, so
    such a snapshot is deleted and taken again.
    """
    client = bulk_client()
    repository = search_snapshot_repository_ensure(client)
    index = _live_index(client)
    for _attempt in range(SNAPSHOT_ATTEMPTS):
        # Every write acknowledged so far is in the snapshot (which flushes, then copies the commit).
        client.indices.refresh(index=index)
        documents = int(client.count(index=index)["count"])
        name = snapshot_name()
        client.snapshot.create(
            repository=repository,
            snapshot=name,
            body={
                "indices": index,
                "include_global_state": False,
                "metadata": {"alias": alias_name(), "index": index, "documents": documents},
            },
            params={"wait_for_completion": "false"},
        )
        final = _wait_for_snapshot(client, repository, name, progress)
        info = _info(final)
        if info.state != "SUCCESS":
            reasons = "; ".join(str(failure.get("reason")) for failure in final.get("failures", [])) or "no reason"
            raise SnapshotError(f"snapshot {name} ended {info.state}: {reasons}")
        client.indices.refresh(index=index)
        if int(client.count(index=index)["count"]) == documents:
            logger.info("search index %s snapshotted as %s (%d documents)", index, name, documents)
            return info
        logger.info("search snapshot %s: books were added or deleted meanwhile; taking it again", name)
        client.snapshot.delete(repository=repository, snapshot=name)
    raise SnapshotError(f"{index} kept changing its document count over {SNAPSHOT_ATTEMPTS} snapshots; try again")


def search_snapshots_prune(*, keep: int | None = None) -> list[str]:
    """Delete this prefix's snapshots beyond the newest ``keep`` successful ones; returns the names deleted.

    Failed and partial snapshots older than the newest kept one go too; one still running
    is never touched. Snapshots of other prefixes are not even listed.
    """
    keep = settings.SEARCH_SNAPSHOT_KEEP if keep is None else keep
    if keep < 1:
        raise SnapshotError("at least one snapshot must be kept")
    client = bulk_client()
    repository = search_snapshot_repository_ensure(client)
    infos = search_snapshots_list(client=client)
    successful = [info for info in infos if info.state == "SUCCESS"]
    kept = {info.name for info in successful[-keep:]}
    oldest_kept = min((info.started_at for info in successful[-keep:]), default=None)
    doomed = [
        info.name
        for info in infos
        if info.name not in kept
        and info.state != "IN_PROGRESS"
        and (info.state == "SUCCESS" or (oldest_kept is not None and info.started_at < oldest_kept))
    ]
    for start in range(0, len(doomed), 50):
        client.snapshot.delete(repository=repository, snapshot=",".join(doomed[start : start + 50]))
    if doomed:
        logger.info("deleted %d old search snapshots: %s", len(doomed), ", ".join(doomed))
    return doomed


# --- Restore -------------------------------------------------------------------------------


def _find_snapshot(client: OpenSearch, repository: str, name: str | None) -> SnapshotInfo:
    if name is None:
        usable = [info for info in search_snapshots_list(client=client) if info.state == "SUCCESS"]
        if not usable:
            raise SnapshotError(
                f"no successful snapshot of {alias_name()} in repository {repository} "
                "(take one with `search_index --snapshot`, or rebuild with `--rebuild`)"
            )
        return usable[-1]
    check_snapshot_name(name)
    # 404 (snapshot_missing_exception) is an answer here, not an error to log.
    found = client.snapshot.get(repository=repository, snapshot=name, ignore=404).get("snapshots") or []
    if not found:
        raise SnapshotError(f"no snapshot {name!r} in repository {repository}; `search_index --snapshots` lists them")
    if not _is_ours(found[0]):
        raise SnapshotError(f"snapshot {name!r} was not taken of {alias_name()}; refusing to restore it")
    info = _info(found[0])
    if info.state != "SUCCESS":
        raise SnapshotError(f"snapshot {name} is {info.state}, not SUCCESS: it cannot be restored whole")
    if not re.fullmatch(rf"{re.escape(alias_name())}-\d+", info.index):
        raise SnapshotError(f"snapshot {name} holds {info.index!r}, not an index of {alias_name()}")
    return info


def _changed_since(moment: datetime) -> list[int]:
    """Books changed after ``moment``: their search row was rewritten (any synced change,
    stock included) or the book itself was saved. New books are among them; deleted ones
    are found by the drift check's full comparison of ids."""
    ids = set(Book.objects.filter(updated_at__gte=moment).values_list("pk", flat=True))
    if connection.vendor == "postgresql":  # the fallback's rows exist on Postgres only
        ids |= set(BookSearchDocument.objects.filter(updated_at__gte=moment).values_list("book_id", flat=True))
    return sorted(ids)


def _rewrite(client: OpenSearch, index: str, ids: list[int], progress: Callable[[int], None] | None) -> None:
    categories = category_infos()
    for start in range(0, len(ids), SYNC_BATCH_SIZE):
        batch = ids[start : start + SYNC_BATCH_SIZE]
        bulk_write_books(client, index, batch, categories)
        if progress:
            progress(len(batch))


def search_snapshot_restore(
    *,
    name: str | None = None,
    sample: int | None = 1000,
    progress: Callable[[str, int, int], None] | None = None,
) -> RestoreReport:
    """Restore snapshot ``name`` (the newest successful one by default) and make it the live index.

    1. The snapshot's index is restored under a new name (``rename_pattern``), without its
       aliases, and must reach yellow with the document count the snapshot recorded.
    2. Books changed since the snapshot (``_changed_since``, less ``CHANGE_MARGIN``) are
       written into it from the database; so are books changed during the restore (the
       rebuild marker makes syncs note them, as during a rebuild).
    3. The alias moves to it in one atomic call; the indices it left are kept.
    4. ``search_index_check`` (ids in full, contents of ``sample`` books; ``None``: all)
       finds what the ``updated_at`` columns cannot show, and those books are re-synced.

    ``progress(stage, done, total)`` hears of ``"rewrite"``. On any failure before the
    swap the new index is deleted and the alias is left as it was.
    """
    started = time.perf_counter()
    if name is not None:
        check_snapshot_name(name)  # before any request
    client = bulk_client()
    repository = search_snapshot_repository_ensure(client)
    info = _find_snapshot(client, repository, name)
    target = new_index_name()
    redis = sync_redis() if settings.REDIS_URL else None
    if redis is not None and not redis.set(sync_key("rebuilding"), target, nx=True, ex=REBUILD_MARKER_SECONDS):
        raise SnapshotError(
            f"a rebuild or restore of {alias_name()} is running ({redis.get(sync_key('rebuilding'))!r})"
        )
    try:
        try:
            client.snapshot.restore(
                repository=repository,
                snapshot=info.name,
                body={
                    "indices": info.index,
                    "include_global_state": False,
                    "include_aliases": False,
                    "rename_pattern": "(.+)",
                    "rename_replacement": target,
                    "index_settings": {"index.number_of_replicas": settings.SEARCH_INDEX_REPLICAS},
                },
                params={"wait_for_completion": "true", "request_timeout": settings.SEARCH_SNAPSHOT_TIMEOUT},
            )
            # request_timeout set, so the client passes `timeout` on as the server-side wait.
            health = client.cluster.health(
                index=target,
                wait_for_status="yellow",
                timeout=f"{HEALTH_TIMEOUT_SECONDS}s",
                request_timeout=HEALTH_TIMEOUT_SECONDS + 10,
            )
            if health.get("timed_out") or health.get("status") == "red":
                raise SnapshotError(f"restored index {target} did not reach yellow within {HEALTH_TIMEOUT_SECONDS} s")
            client.indices.refresh(index=target)
            documents = int(client.count(index=target)["count"])
            if info.documents is not None and documents != info.documents:
                raise SnapshotError(
                    f"restored index {target} holds {documents:,} documents, the snapshot recorded {info.documents:,}"
                )
            rewrite_started = datetime.now(UTC)
            changed = _changed_since(info.started_at - CHANGE_MARGIN)
            _rewrite(client, target, changed, (lambda n: progress("rewrite", n, len(changed))) if progress else None)
            client.indices.refresh(index=target)
            replay_changed_books(client, target, redis)
            previous = swap_alias(client, target)
        except BaseException:
            # Never aliased, so nothing reads it; a failure to delete it must not hide why.
            with contextlib.suppress(TransportError):
                client.indices.delete(index=target, ignore_unavailable=True)
            raise
    finally:
        if redis is not None:
            redis.delete(sync_key("rebuilding"))
    replay_changed_books(client, target, redis)
    # A sync that ran while there was no alias (the live index lost) wrote its fallback row
    # and skipped the index without noting the book for the replay: its row says so.
    # (Books written a moment ago are written again: cheap, and no clock skew can skip one.)
    late = _changed_since(rewrite_started - CHANGE_MARGIN)
    _rewrite(client, target, late, None)
    client.indices.refresh(index=target)
    search_results_changed()
    drift = search_index_check(sample=sample)
    if drift.has_drift:
        search_books_sync(book_ids=drift.ids_to_fix)
    logger.warning(
        "search index restored from snapshot %s into %s (alias %s moved from %s)",
        info.name,
        target,
        alias_name(),
        ", ".join(previous) or "nothing",
    )
    return RestoreReport(
        snapshot=info.name,
        index=target,
        documents=int(client.count(index=target)["count"]),
        rewritten=len({*changed, *late}),
        previous_indices=previous,
        drift=drift,
        seconds=round(time.perf_counter() - started, 1),
    )
