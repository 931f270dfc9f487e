"""Hot reads in-process: DynamoDB (moto here) against Postgres, the same calls the partner API makes.

Two reads, each measured ``BENCH_HOT_ITERATIONS`` times (2,000) one after another in this
process, over books drawn at random from the catalog:

* the book detail (``hot_book_details`` with the table, ``book_details`` without it);
* availability of 20 ISBNs (``hot_books_availability`` / ``books_availability``).

The table (``dynamo-bench-<pid>``) is created and backfilled from the catalog's first
``BENCH_HOT_BOOKS`` books (5,000), then dropped. moto is a Python server answering over
HTTP on loopback, so its latency is not DynamoDB's (single-digit ms in a region, from a
client in the same region) and says nothing about Postgres under load: the point of the hot
store is to take these reads off the primary at scale, not to be faster than an idle local
Postgres. Run: ``make bench NAME=hot`` (the stack's database) or ``python bench/bench_hot.py``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loadgen import Result  # noqa: E402

ITERATIONS = int(os.environ.get("BENCH_HOT_ITERATIONS", "2000"))
BOOKS = int(os.environ.get("BENCH_HOT_BOOKS", "5000"))
AVAILABILITY_ISBNS = 20


def _measure(name: str, call: Callable[[int], object]) -> Result:
    result = Result(name=name)
    started = time.perf_counter()
    for index in range(ITERATIONS):
        began = time.perf_counter()
        try:
            call(index)
        except Exception:  # noqa: BLE001 - counted, not fatal: the figures say how many failed
            result.errors += 1
            continue
        result.latencies_ms.append((time.perf_counter() - began) * 1000)
        result.statuses[200] = result.statuses.get(200, 0) + 1
    result.elapsed_s = time.perf_counter() - started
    return result


def run(base_url: str = "") -> list[Result]:
    """Measure both reads from both stores (``base_url`` is unused: this runs in-process)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    import django

    django.setup()
    from django.conf import settings

    from catalog.hot import dynamo
    from catalog.hot.reads import dynamodb_breaker, hot_book_details, hot_books_availability
    from catalog.hot.records import hot_records
    from catalog.models import Book
    from catalog.selectors.cards import book_details, books_availability

    if not settings.AWS_ENDPOINT_URL:
        raise SystemExit("set AWS_ENDPOINT_URL (moto: http://127.0.0.1:55000): this benchmark never touches AWS")
    rows = list(Book.objects.order_by("pk").values_list("pk", "isbn13")[:BOOKS])
    if len(rows) < AVAILABILITY_ISBNS:
        raise SystemExit(f"the benchmark needs at least {AVAILABILITY_ISBNS} books: run `make seed`")
    rng = random.Random(7)
    ids = [rng.choice(rows)[0] for _ in range(ITERATIONS)]
    batches = [[isbn for _, isbn in rng.sample(rows, AVAILABILITY_ISBNS)] for _ in range(ITERATIONS)]

    settings.DYNAMODB_TABLE = f"dynamo-bench-{os.getpid()}"
    try:
        # Only the first BOOKS books (hot_backfill walks the whole catalog): the sample's records.
        dynamo.table_create()
        for start in range(0, len(rows), 500):
            chunk = [book_id for book_id, _ in rows[start : start + 500]]
            records = hot_records(chunk)
            dynamo.batch_write([{"PutRequest": {"Item": item}} for r in records.values() for item in r.items()])
        dynamodb_breaker.reset()
        for index in range(50):  # warm both paths: connections, the category index, query plans
            hot_book_details(book_id=ids[index])
            book_details(pk=ids[index])
        results = [
            _measure("hot: book detail, DynamoDB", lambda i: hot_book_details(book_id=ids[i])),
            _measure("hot: book detail, Postgres", lambda i: book_details(pk=ids[i])),
            _measure("hot: availability x20, DynamoDB", lambda i: hot_books_availability(batches[i])),
            _measure("hot: availability x20, Postgres", lambda i: books_availability(batches[i])),
        ]
        if dynamodb_breaker.state != "closed":
            results[0].problems.append("the DynamoDB breaker opened: some reads were answered by Postgres")
    finally:
        dynamo.table_delete()
    for result in results:
        result.notes.append(f"  in-process, sequential, {ITERATIONS} reads over {len(rows):,} books; moto, not AWS")
    return results


if __name__ == "__main__":
    for measured in run():
        print(measured.summary_line())
        print("\n".join(measured.notes + [f"FAIL: {problem}" for problem in measured.problems]))
