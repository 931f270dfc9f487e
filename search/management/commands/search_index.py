"""``manage.py search_index``: rebuild the books index with zero downtime, check it for drift,
back it up (snapshots) and restore it."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError
from tqdm import tqdm

from catalog.models import Book
from cloudshelf.database import long_running_statements
from search import services, snapshots
from search.client import is_configured
from search.documents import alias_name
from search.snapshots import SnapshotError


def _ids(ids: list[int], limit: int = 10) -> str:
    shown = ", ".join(str(book_id) for book_id in ids[:limit])
    return f"{shown}, … ({len(ids):,} in all)" if len(ids) > limit else shown


def _size(size_bytes: int) -> str:
    size = float(size_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


class Command(BaseCommand):
    help = (
        "--rebuild: build a new books index from the database with the bulk API, swap the alias to it "
        "atomically (searches never stop) and refresh the Postgres fallback's search rows. "
        "--check: report drift between the database and the index (ids in full, contents for a sample); "
        "exit status 1 when there is drift. --check --fix re-syncs the drifted books. "
        "--snapshot: back up the live index to SEARCH_SNAPSHOT_REPOSITORY (keeping the newest "
        "SEARCH_SNAPSHOT_KEEP); --snapshots lists them; --restore [SNAPSHOT] restores one (the newest by "
        "default) into a new index, brings it up to date from the database and swaps the alias to it."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--rebuild", action="store_true", help="build a new index and swap the alias")
        action.add_argument("--check", action="store_true", help="compare the index with the database")
        action.add_argument("--cleanup", action="store_true", help="delete books indices the alias does not use")
        action.add_argument("--snapshot", action="store_true", help="snapshot the live index, then prune old ones")
        action.add_argument("--snapshots", action="store_true", help="list this index's snapshots")
        action.add_argument(
            "--restore",
            nargs="?",
            const="",
            metavar="SNAPSHOT",
            help="restore a snapshot (default: the newest) into a new index and swap the alias to it",
        )
        parser.add_argument("--keep-old", action="store_true", help="--rebuild: keep the previous index")
        parser.add_argument(
            "--sample",
            type=int,
            default=1000,
            help="--check, --restore: documents whose contents are compared (default 1000)",
        )
        parser.add_argument(
            "--all", action="store_true", help="--check, --restore: compare the contents of every document"
        )
        parser.add_argument("--fix", action="store_true", help="--check: re-sync every drifted book")

    # Minutes-long statements (bulk writes, VACUUM, whole-table reads) are the job here.
    @long_running_statements()
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["rebuild"]:
                self._rebuild(keep_old=options["keep_old"], verbose=options["verbosity"] >= 1)
            elif options["check"]:
                self._check(sample=None if options["all"] else max(options["sample"], 0), fix=options["fix"])
            elif options["snapshot"]:
                self._snapshot(verbose=options["verbosity"] >= 1)
            elif options["snapshots"]:
                self._snapshots()
            elif options["restore"] is not None:
                self._restore(
                    name=options["restore"] or None,
                    sample=None if options["all"] else max(options["sample"], 0),
                    verbose=options["verbosity"] >= 1,
                )
            else:
                removed = services.search_index_cleanup()
                self.stdout.write(f"Deleted {len(removed)} unused indices: {', '.join(removed) or 'none'}")
        except SnapshotError as error:
            raise CommandError(str(error)) from None
        except OpenSearchConnectionError as error:
            raise CommandError(f"OpenSearch cannot be reached (is it running?): {error}") from None
        except TransportError as error:
            raise CommandError(f"OpenSearch refused: {error}") from None

    def _rebuild(self, *, keep_old: bool, verbose: bool) -> None:
        total = Book.objects.count()
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int) -> None:
            if stage not in bars:
                for bar in bars.values():
                    bar.close()
                bars.clear()
                label = "OpenSearch index" if stage == "index" else "fallback rows"
                bars[stage] = tqdm(total=total, desc=label, unit=" books", disable=not verbose, file=self.stderr)
            bars[stage].update(done)

        if not is_configured():
            self.stdout.write("OPENSEARCH_URL is not set: refreshing only the database fallback's search rows.")
        report = services.search_index_rebuild(progress=progress, keep_old=keep_old)
        for bar in bars.values():
            bar.close()
        bars.clear()
        if report.index:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Indexed {report.documents:,} books into {report.index}, alias {alias_name()} now points to it; "
                    f"{report.search_rows:,} fallback rows refreshed in {report.seconds:.1f} s."
                )
            )
            if report.removed_indices:
                self.stdout.write(f"Deleted the previous index: {', '.join(report.removed_indices)}")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"{report.search_rows:,} fallback rows refreshed in {report.seconds:.1f} s.")
            )

    def _check(self, *, sample: int | None, fix: bool) -> None:
        report = services.search_index_check(sample=sample)
        write = self.stdout.write
        write(f"Books in the database: {report.books:,}")
        if report.index_checked:
            write(f"Documents in {alias_name()}: {report.documents:,}")
            write(
                f"Missing from the index: {len(report.missing_ids):,}"
                + (f" ({_ids(report.missing_ids)})" if report.missing_ids else "")
            )
            write(
                f"In the index, deleted from the database: {len(report.extra_ids):,}"
                + (f" ({_ids(report.extra_ids)})" if report.extra_ids else "")
            )
            write(
                f"Different contents: {len(report.stale_ids):,} of {report.compared:,} compared"
                + (f" ({_ids(report.stale_ids)})" if report.stale_ids else "")
            )
        else:
            write("OPENSEARCH_URL is not set: only the fallback rows were checked.")
        write(
            f"Fallback rows: {report.fallback_rows:,}, missing {len(report.fallback_missing_ids):,}, "
            f"older than their book {len(report.fallback_stale_ids):,}"
        )
        if not report.has_drift:
            write(self.style.SUCCESS("No drift."))
            return
        if fix:
            services.search_books_sync(book_ids=report.ids_to_fix)
            write(self.style.SUCCESS(f"Re-synced {len(report.ids_to_fix):,} books."))
            return
        raise CommandError("The index has drifted from the database (run with --fix, or --rebuild).", returncode=1)

    def _snapshot(self, *, verbose: bool) -> None:
        bar = tqdm(desc="snapshot", unit="B", unit_scale=True, disable=not verbose, file=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total or None
            bar.update(done - bar.n)

        self.stdout.write(f"Snapshotting {alias_name()} into repository {settings.SEARCH_SNAPSHOT_REPOSITORY}…")
        try:
            info = snapshots.search_snapshot_take(progress=progress)
        finally:
            bar.close()
        self.stdout.write(
            self.style.SUCCESS(f"Snapshot {info.name} of {info.index} ({info.documents:,} documents): {info.state}.")
        )
        pruned = snapshots.search_snapshots_prune()
        self.stdout.write(
            f"Kept the newest {settings.SEARCH_SNAPSHOT_KEEP}; deleted {len(pruned)}: {', '.join(pruned) or 'none'}"
        )

    def _snapshots(self) -> None:
        infos = snapshots.search_snapshots_list(with_sizes=True)
        if not infos:
            self.stdout.write(f"No snapshots of {alias_name()} in {settings.SEARCH_SNAPSHOT_REPOSITORY}.")
            return
        self.stdout.write(f"{'SNAPSHOT':<44} {'TAKEN (UTC)':<19} {'STATE':<11} {'SIZE':>10} {'DOCS':>11}")
        for info in infos:
            size = _size(info.size_bytes) if info.size_bytes is not None else "?"
            documents = f"{info.documents:,}" if info.documents is not None else "?"
            taken = info.started_at.strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(f"{info.name:<44} {taken:<19} {info.state:<11} {size:>10} {documents:>11}")

    def _restore(self, *, name: str | None, sample: int | None, verbose: bool) -> None:
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = tqdm(
                    total=total, desc="changed books", unit=" books", disable=not verbose, file=self.stderr
                )
            bars[stage].update(done)

        if name is not None:
            snapshots.check_snapshot_name(name)  # a hostile name is refused before it is echoed
        self.stdout.write(
            f"Restoring {name or 'the newest snapshot'} of {alias_name()} into a new index "
            "(searches are answered meanwhile by the live index, or by the database fallback)…"
        )
        try:
            report = snapshots.search_snapshot_restore(name=name, sample=sample, progress=progress)
        finally:
            for bar in bars.values():
                bar.close()
        write = self.stdout.write
        write(
            self.style.SUCCESS(
                f"Restored {report.snapshot} into {report.index} ({report.documents:,} documents); "
                f"alias {alias_name()} now points to it ({report.seconds:.1f} s)."
            )
        )
        write(f"Books changed since the snapshot, written again from the database: {report.rewritten:,}")
        drift = report.drift
        write(
            f"Drift check afterwards: {len(drift.missing_ids):,} missing, {len(drift.extra_ids):,} deleted, "
            f"{len(drift.stale_ids):,} of {drift.compared:,} compared differed, "
            f"{len(drift.fallback_missing_ids) + len(drift.fallback_stale_ids):,} fallback rows out of date"
            + (f"; re-synced {len(drift.ids_to_fix):,} books." if drift.has_drift else "; none.")
        )
        if report.previous_indices:
            write(
                f"The alias left {', '.join(report.previous_indices)}; it is kept "
                "(delete it with `search_index --cleanup` once you no longer need it)."
            )
