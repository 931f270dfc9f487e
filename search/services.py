"""Writes of the search app: keeping the OpenSearch index and the fallback's rows true.

* ``search_books_sync`` writes the current state of some books to both places (index or
  delete each document; upsert the Postgres search rows). Idempotent: it reads the
  database *now*, so running it twice, late, or out of order still ends right.
* ``search_queue_books`` is what the catalog's ``books_changed`` receiver calls: ids go
  into a Redis set and one debounced Celery task (``search.tasks.sync_pending_books``)
  syncs whatever has gathered, so a burst of changes becomes one bulk request.
* ``search_index_rebuild`` builds a new index from the database with the bulk API and
  swaps the alias atomically (zero downtime), then refreshes every fallback row.
* ``search_index_check`` reports drift between the database and the index.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from opensearchpy import OpenSearch, helpers

from catalog.models import Author, Book, BookAuthor, Category, Inventory, Tag
from catalog.selectors.cards import all_book_id_batches
from search.client import bulk_client, is_configured
from search.documents import (
    CategoryInfo,
    alias_name,
    book_documents,
    book_index,
    category_infos,
    index_pattern,
    new_index_name,
)
from search.models import BookSearchDocument
from search.result_cache import search_results_changed

logger = logging.getLogger(__name__)

BULK_CHUNK_SIZE = 1000
# Ids popped from the pending set per bulk request.
SYNC_BATCH_SIZE = 1000
REBUILD_MARKER_SECONDS = 6 * 60 * 60


# --- Redis keys (raw connection; prefixed like the index, so test runs never meet) ------


def sync_key(part: str) -> str:
    """A Redis key of the index sync's state (pending books, the rebuild marker), under the index prefix."""
    return f"{settings.SEARCH_INDEX_PREFIX}sync:{part}"


def sync_redis() -> Any:
    """The durable Redis: the queue of books to index is owed work, never evicted."""
    from django_redis import get_redis_connection

    return get_redis_connection("durable")


def search_pending_count() -> int:
    """How many book changes wait to be written to the index (readiness reports a stalled sync)."""
    return int(sync_redis().scard(sync_key("pending")))


# --- The fallback's rows (Postgres) -----------------------------------------------------


# The copied columns of a search row, each with the SQL that computes it (see BookSearchDocument).
_ROW_COLUMNS = {
    # One weight per kind of match the ranking tells apart (search.backends.postgres):
    # title A, authors B, subtitle, category and tags C, description D.
    "search_vector": """setweight(to_tsvector('cloudshelf_english', b.title), 'A')
        || setweight(to_tsvector('cloudshelf_english', COALESCE(a.names, '')), 'B')
        || setweight(to_tsvector('cloudshelf_english', b.subtitle || ' '
                     || COALESCE(REPLACE(c.name_path, ' > ', ' '), '') || ' ' || COALESCE(t.names, '')), 'C')
        || setweight(to_tsvector('cloudshelf_english', b.description), 'D')""",
    "search_text": "LOWER(b.title || ' ' || COALESCE(a.names, ''))",
    "title": "b.title",
    "isbn13": "b.isbn13",
    "category_id": "b.category_id",
    "price": "b.price",
    "average_rating": "b.average_rating",
    "ratings_count": "b.ratings_count",
    "popularity": "b.popularity",
    "language": "b.language",
    "publication_date": "b.publication_date",
    "publication_sort_date": "b.publication_sort_date",
    "is_in_stock": "COALESCE(i.stock_on_hand, 0) > 0",
    "author_names": "COALESCE(a.names_json, '[]'::jsonb)",
    # catalog.titles.title_keys and title_parts(...).series and .number, in SQL (search migration 0003).
    "title_keys": """JSONB_BUILD_ARRAY(
        cloudshelf_title_key(b.title), cloudshelf_title_key(REGEXP_REPLACE(b.title, '\\s*\\([^()]*\\)\\s*$', '')))""",
    "series": """COALESCE(BTRIM(REGEXP_REPLACE((REGEXP_MATCH(
        b.title, '\\S\\s*\\(([^()#;]*)#\\s*\\d+(?:\\.\\d+)?(?:\\s*[-\u2013]\\s*\\d+)?\\s*(?:;[^()]*)?\\)\\s*$'))[1],
        '[\\s,]+$', '')), '')""",
    "series_number": """(REGEXP_MATCH(
        b.title, '\\S\\s*\\([^()#;]*#\\s*(\\d+(?:\\.\\d+)?)\\s*(?:;[^()]*)?\\)\\s*$'))[1]::float8""",
}


def _search_rows_from(where: str) -> str:
    """``FROM … WHERE …`` of the books ``where`` selects, with what their search rows are made of."""
    quote = connection.ops.quote_name
    book, author, link = quote(Book._meta.db_table), quote(Author._meta.db_table), quote(BookAuthor._meta.db_table)
    category, tag, inventory = (
        quote(Category._meta.db_table),
        quote(Tag._meta.db_table),
        quote(Inventory._meta.db_table),
    )
    tags_link = quote(Book.tags.through._meta.db_table)
    return f"""
        FROM {book} b
        LEFT JOIN {category} c ON c.id = b.category_id
        LEFT JOIN {inventory} i ON i.book_id = b.id
        LEFT JOIN LATERAL (
            SELECT STRING_AGG(au.name, ' ' ORDER BY ba.position) AS names,
                   JSONB_AGG(au.name ORDER BY ba.position) AS names_json
            FROM {link} ba JOIN {author} au ON au.id = ba.author_id WHERE ba.book_id = b.id
        ) a ON TRUE
        LEFT JOIN LATERAL (
            SELECT STRING_AGG(tg.name, ' ') AS names
            FROM {tags_link} bt JOIN {tag} tg ON tg.id = bt.tag_id WHERE bt.book_id = b.id
        ) t ON TRUE
        WHERE {where}
    """


def _search_rows_sql(where: str) -> str:
    """Upsert of ``BookSearchDocument`` rows for the books ``where`` selects (one statement)."""
    rows = connection.ops.quote_name(BookSearchDocument._meta.db_table)
    columns = ", ".join(_ROW_COLUMNS)
    values = ",\n               ".join(_ROW_COLUMNS.values())
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in [*_ROW_COLUMNS, "updated_at"])
    return f"""
        INSERT INTO {rows} (book_id, {columns}, updated_at)
        SELECT b.id, {values}, CLOCK_TIMESTAMP()
        {_search_rows_from(where)}
        ON CONFLICT (book_id) DO UPDATE SET {updates}
    """


def search_rows_stale_ids() -> list[int]:
    """Books whose search row differs from what the catalog says now (every row, one query)."""
    rows = connection.ops.quote_name(BookSearchDocument._meta.db_table)
    copied = [name for name in _ROW_COLUMNS if name != "search_vector"]
    current = ", ".join(_ROW_COLUMNS[name] for name in copied)
    stored = ", ".join(f"d.{name}" for name in copied)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT b.id {_search_rows_from('TRUE')} AND EXISTS (SELECT 1 FROM {rows} d WHERE d.book_id = b.id "
            f"AND ({stored}) IS DISTINCT FROM ({current})) ORDER BY b.id"
        )
        return [book_id for (book_id,) in cursor.fetchall()]


def search_rows_refresh(*, book_ids: Iterable[int]) -> int:
    """Rewrite the fallback's search rows of ``book_ids`` (Postgres only; SQLite searches the catalog).

    Rows of deleted books go with them (the foreign key cascades). Returns rows written.
    """
    ids = sorted(set(book_ids))
    if not ids or connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_search_rows_sql("b.id = ANY(%s)"), [ids])
        return max(cursor.rowcount, 0)


def search_rows_rebuild(*, progress: Callable[[int], None] | None = None, batch_size: int = 5000) -> int:
    """Rewrite every fallback search row, a range of book ids at a time (short transactions)."""
    if connection.vendor != "postgresql":
        return 0
    written = 0
    for ids in all_book_id_batches(batch_size):
        with connection.cursor() as cursor:
            cursor.execute(_search_rows_sql("b.id BETWEEN %s AND %s"), [ids[0], ids[-1]])
            written += max(cursor.rowcount, 0)
        if progress:
            progress(len(ids))
    return written


# --- Syncing books ----------------------------------------------------------------------


def alias_exists(client: OpenSearch) -> bool:
    """Whether the index has been built; writing to a missing alias would auto-create a bad index."""
    return bool(client.indices.exists_alias(name=alias_name()))


def bulk_write_books(client: OpenSearch, index: str, book_ids: list[int], categories: dict[int, CategoryInfo]) -> int:
    """Index the documents of ``book_ids`` into ``index``; delete those of books that are gone."""
    documents = book_documents(book_ids, categories=categories)
    present = {document["id"] for document in documents}
    actions: list[dict[str, Any]] = [
        {"_op_type": "index", "_index": index, "_id": document["id"], "_source": document} for document in documents
    ]
    actions += [
        {"_op_type": "delete", "_index": index, "_id": book_id} for book_id in book_ids if book_id not in present
    ]
    # 404: deleting a document that was never indexed is already the state we want.
    helpers.bulk(client, actions, chunk_size=BULK_CHUNK_SIZE, ignore_status=(404,), refresh=False)
    return len(actions)


def search_books_sync(*, book_ids: Iterable[int]) -> int:
    """Write the current state of ``book_ids`` to the fallback rows and to the index.

    Raises the OpenSearch error when the index cannot be written (the caller retries);
    the fallback rows are written first and are already right by then. While a rebuild
    runs, the ids are also noted so the rebuild replays them into the new index.
    """
    ids = sorted(set(book_ids))
    if not ids:
        return 0
    search_rows_refresh(book_ids=ids)
    if not is_configured():
        return 0
    client = bulk_client()
    if not alias_exists(client):
        logger.info("search index %s does not exist yet; run `manage.py search_index --rebuild`", alias_name())
        return 0
    written = 0
    categories = category_infos()
    for start in range(0, len(ids), SYNC_BATCH_SIZE):
        written += bulk_write_books(client, alias_name(), ids[start : start + SYNC_BATCH_SIZE], categories)
    # Visible now rather than at the next periodic refresh (syncs are debounced into one
    # per burst, so this adds few segments); then no kept answer predates the write.
    client.indices.refresh(index=alias_name())
    search_results_changed()
    if settings.REDIS_URL:
        try:
            redis = sync_redis()
            if redis.exists(sync_key("rebuilding")):
                redis.sadd(sync_key("rebuild-dirty"), *ids)
        except Exception:  # the index is written; a lost note costs one stale doc until --check
            logger.warning("search sync: could not note ids for the running rebuild", exc_info=True)
    return written


def search_queue_books(*, book_ids: Iterable[int]) -> None:
    """Queue ``book_ids`` for syncing: one debounced task per burst. Never raises.

    Called on commit by the receivers. Ids go to a Redis set; the first caller of a
    burst also schedules ``sync_pending_books`` ``SEARCH_INDEX_DEBOUNCE_SECONDS`` later
    (a ``SET NX`` flag makes it exactly one), which then syncs everything gathered with
    one bulk request. Without Redis (the embedded default) the books sync now.
    """
    from search.tasks import sync_books, sync_pending_books

    ids = sorted(set(book_ids))
    if not ids:
        return
    try:
        if not settings.REDIS_URL:
            sync_books.delay(ids)
            return
        redis = sync_redis()
        pipeline = redis.pipeline()
        pipeline.sadd(sync_key("pending"), *ids)
        # The flag outlives a lost task, so a later change schedules a new one.
        pipeline.set(sync_key("scheduled"), 1, nx=True, ex=max(30, int(settings.SEARCH_INDEX_DEBOUNCE_SECONDS * 10)))
        _, is_first = pipeline.execute()
        if is_first:
            sync_pending_books.apply_async(
                args=[settings.SEARCH_INDEX_PREFIX], countdown=settings.SEARCH_INDEX_DEBOUNCE_SECONDS
            )
    except Exception:  # runs after the commit: failing here would turn a saved change into a 500
        logger.exception("search: could not queue books %s for indexing; `search_index --check --fix` repairs", ids)


def search_sync_pending() -> int:
    """Sync every queued book id (the body of ``sync_pending_books``). Returns ids synced.

    The flag is cleared *before* the set is read, so a change arriving meanwhile either is
    read now or schedules the next task: none is stranded. On failure the ids go back
    into the set and a retry is scheduled.
    """
    from search.tasks import sync_pending_books

    redis = sync_redis()
    redis.delete(sync_key("scheduled"))
    synced = 0
    while True:
        ids = sorted(int(value) for value in redis.spop(sync_key("pending"), SYNC_BATCH_SIZE) or [])
        if not ids:
            return synced
        try:
            search_books_sync(book_ids=ids)
        except Exception:
            redis.sadd(sync_key("pending"), *ids)
            retry = settings.SEARCH_SYNC_RETRY_SECONDS
            if redis.set(sync_key("scheduled"), 1, nx=True, ex=max(1, int(retry * 2))):
                sync_pending_books.apply_async(args=[settings.SEARCH_INDEX_PREFIX], countdown=retry)
            raise
        synced += len(ids)


# --- Rebuild ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildReport:
    index: str
    documents: int
    search_rows: int
    seconds: float
    removed_indices: list[str]


def _document_actions(index: str, progress: Callable[[int], None] | None) -> Iterator[dict[str, Any]]:
    categories = category_infos()
    for ids in all_book_id_batches(2000):
        for document in book_documents(ids, categories=categories):
            yield {"_op_type": "index", "_index": index, "_id": document["id"], "_source": document}
        if progress:
            progress(len(ids))


def search_index_rebuild(
    *,
    progress: Callable[[str, int], None] | None = None,
    keep_old: bool = False,
) -> RebuildReport:
    """Build a fresh index from the database, swap the alias to it, and refresh the fallback rows.

    Searches keep using the old index until the one atomic ``_aliases`` call moves the
    alias, so a rebuild never interrupts them. Books changed during the build are replayed
    into the new index before and after the swap. ``progress(stage, n)`` is told about
    every batch of books (stages ``"index"`` and ``"fallback"``).
    """
    started = time.perf_counter()
    documents = 0
    removed: list[str] = []
    name = ""
    if is_configured():
        client = bulk_client()
        name = new_index_name()
        book_index(name, building=True).create(using=client)
        redis = sync_redis() if settings.REDIS_URL else None
        if redis is not None:
            redis.set(sync_key("rebuilding"), name, ex=REBUILD_MARKER_SECONDS)
        try:
            step: Callable[[int], None] | None = (lambda n: progress("index", n)) if progress else None
            for ok, _item in helpers.streaming_bulk(
                client, _document_actions(name, step), chunk_size=BULK_CHUNK_SIZE, max_retries=2, yield_ok=False
            ):
                if not ok:
                    raise RuntimeError(f"the bulk load into {name} failed: {_item}")
            client.indices.put_settings(
                index=name,
                body={"index": {"refresh_interval": "1s", "number_of_replicas": settings.SEARCH_INDEX_REPLICAS}},
            )
            client.indices.refresh(index=name)
            replay_changed_books(client, name, redis)
            removed = swap_alias(client, name)
        except Exception:
            client.indices.delete(index=name, ignore_unavailable=True)
            raise
        finally:
            if redis is not None:
                redis.delete(sync_key("rebuilding"))
        replay_changed_books(client, name, redis)
        search_results_changed()
        documents = int(client.count(index=name)["count"])
        if not keep_old:
            for old in removed:
                client.indices.delete(index=old, ignore_unavailable=True)
    rows = search_rows_rebuild(progress=(lambda n: progress("fallback", n)) if progress else None)
    return RebuildReport(
        index=name,
        documents=documents,
        search_rows=rows,
        seconds=round(time.perf_counter() - started, 1),
        removed_indices=[] if keep_old else removed,
    )


def replay_changed_books(client: OpenSearch, index: str, redis: Any) -> None:
    """Write books changed while the index was being built into it again, from the database."""
    if redis is None:
        return
    categories = category_infos()
    while True:
        ids = sorted(int(value) for value in redis.spop(sync_key("rebuild-dirty"), SYNC_BATCH_SIZE) or [])
        if not ids:
            return
        bulk_write_books(client, index, ids, categories)
        client.indices.refresh(index=index)


def swap_alias(client: OpenSearch, index: str) -> list[str]:
    """Point the alias at ``index`` alone, in one atomic call; returns the indices it left."""
    alias = alias_name()
    previous = sorted(client.indices.get_alias(name=alias).keys()) if alias_exists(client) else []
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in previous]
    if not previous and client.indices.exists(index=alias):
        # A concrete index with the alias's name (auto-created by a stray write) is removed
        # in the same atomic call, or the alias could not be added.
        actions.append({"remove_index": {"index": alias}})
    actions.append({"add": {"index": index, "alias": alias}})
    client.indices.update_aliases(body={"actions": actions})
    return previous


def search_index_cleanup() -> list[str]:
    """Delete concrete indices of this prefix that the alias does not point to (e.g. after --keep-old)."""
    client = bulk_client()
    live = set(client.indices.get_alias(name=alias_name()).keys()) if alias_exists(client) else set()
    stale = [name for name in client.indices.get(index=index_pattern()) if name not in live]
    for name in stale:
        client.indices.delete(index=name, ignore_unavailable=True)
    return stale


# --- Drift check ------------------------------------------------------------------------


@dataclass
class DriftReport:
    books: int = 0
    documents: int = 0
    missing_ids: list[int] = field(default_factory=list)  # in the database, not in the index
    extra_ids: list[int] = field(default_factory=list)  # in the index, no longer in the database
    stale_ids: list[int] = field(default_factory=list)  # in both, with different contents
    compared: int = 0
    fallback_rows: int = 0
    fallback_missing_ids: list[int] = field(default_factory=list)
    fallback_stale_ids: list[int] = field(default_factory=list)
    index_checked: bool = True

    @property
    def has_drift(self) -> bool:
        return bool(
            self.missing_ids or self.extra_ids or self.stale_ids or self.fallback_missing_ids or self.fallback_stale_ids
        )

    @property
    def ids_to_fix(self) -> list[int]:
        return sorted(
            {*self.missing_ids, *self.extra_ids, *self.stale_ids, *self.fallback_missing_ids, *self.fallback_stale_ids}
        )


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """A document as JSON would carry it (dates as ISO text, numbers as floats)."""
    return {
        key: float(value) if key in {"price", "average_rating"} and value is not None else value
        for key, value in document.items()
    }


def search_index_check(*, sample: int | None = 1000) -> DriftReport:
    """Compare the database with the index (and the fallback rows).

    Ids are compared in full (which books are missing or extra). Contents are compared
    document by document for a random ``sample`` of the books in both (``None``: all),
    because stock, price and rating changes do not all move ``updated_at``.
    """
    report = DriftReport()
    db_ids = set(Book.objects.values_list("pk", flat=True))
    report.books = len(db_ids)
    if connection.vendor == "postgresql":
        row_ids = set(BookSearchDocument.objects.values_list("book_id", flat=True))
        report.fallback_rows = len(row_ids)
        report.fallback_missing_ids = sorted(db_ids - row_ids)
        report.fallback_stale_ids = search_rows_stale_ids()
    if not is_configured():
        report.index_checked = False
        return report
    client = bulk_client()
    if not alias_exists(client):
        report.missing_ids = sorted(db_ids)
        return report
    index_ids = {
        int(hit["_id"])
        for hit in helpers.scan(client, index=alias_name(), query={"_source": False, "sort": ["_doc"]}, size=5000)
    }
    report.documents = len(index_ids)
    report.missing_ids = sorted(db_ids - index_ids)
    report.extra_ids = sorted(index_ids - db_ids)
    common = sorted(db_ids & index_ids)
    chosen = common if sample is None or sample >= len(common) else sorted(random.sample(common, sample))
    categories = category_infos()
    for start in range(0, len(chosen), 1000):
        batch = chosen[start : start + 1000]
        expected = {document["id"]: _comparable(document) for document in book_documents(batch, categories=categories)}
        found = client.mget(index=alias_name(), body={"ids": batch})["docs"]
        for item in found:
            book_id = int(item["_id"])
            if item.get("found") and book_id in expected and _comparable(item["_source"]) != expected[book_id]:
                report.stale_ids.append(book_id)
    report.compared = len(chosen)
    return report
