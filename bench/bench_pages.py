"""Whole pages from the page cache, straight to gunicorn: the edge tier's targets (issue 9).

Targets, on the 2-core machine with 100,000 books (``make up``, ``make seed``):

* anonymous book detail over 100+ different books, ``/books/``, a category and home: each
  at least 1,000 requests/s with p99 under 50 ms;
* the same book pages for a visitor with a session and a 3-line cart: at least 400/s;
* cart page with 40 lines: at least 300/s;
* the first view of a book page after a change: p95 under 30 ms at 50/s;
* in one Django process, a cached anonymous page costs at most 4x what ``/health`` costs;
* and, not a target: the HTTP cache's hit rate on a browse/search/detail mix through nginx.

Throughput runs are closed-loop (``bench/wrk.py``: ``wrk -t2 -c16 -d20s`` after a 5 s
warm-up of the same load). wrk shares the two cores with gunicorn, Postgres and Redis, so
each run prints its ratio to a floor measured in the same invocation: ``/health`` (Django's
middleware and nothing else), before and after the page runs. Each run prints req/s,
p50/p95/p99, errors and non-2xx answers, the ``X-Page-Cache`` values (hit/miss/stale/
bypass) and PASS/FAIL.

Sessions are made as a browser makes them (``bench_cart.anonymous_visitor``): a GET of a
book page, then real POSTs to ``/cart/add/`` with the CSRF token; the ``sessionid`` cookie
comes back from the first add. 16 visitors with 3 lines each share the session book runs
(request *i* is book *i* with visitor *i* mod 16); 8 visitors with 40 lines each share the
cart page run.

**First view after a change, and why the method is fair.** Open loop (``bench/loadgen.py``)
at 50/s for 2 s of warm-up and 20 s measured, over 1,100 other books
(``BENCH_PAGES_CHANGE_BOOKS``), each asked exactly once. Their pages are all fetched first
(so each is in the page cache), then every one of them changes: their prices rise 1% through
the service layer in this process (``catalog.services.books_adjust_price``: one transaction,
then ``books_changed`` after the commit, which is what retires each book's pages, queues the
search sync and the CDN invalidation). The run waits until the Celery queue is empty (those
side effects are not what is measured), then asks for each page once: every answer is the
first view of that page after its change, a rebuild, under a steady 50/s of them. The answer
must show the new price: an answer without it was served from a page the change did not
retire and makes the run a problem, not a figure (it would measure a cache hit). Prices are
put back at the end (one transaction, ``books_changed`` again). (An earlier method changed
each book the moment before its fetch, 50 changes a second; that measured the change storm —
a transaction, a search-index write and a CDN invalidation per request, on the same two
cores — more than the first view.)

**In-process ratio.** ``django.test.Client`` (the full middleware stack, no HTTP, no
gunicorn) in this process: a book page fetched until the page cache serves it, then
``/health`` and the page in alternating batches; the medians of each give the ratio.

**HTTP cache hit rate.** Through nginx at 127.0.0.1:$NGINX_PORT (8080; ``make up`` starts it), open loop:
browse 40% (``/books/`` sorts and pages 1-5, categories pages 1-3), search 30% (300 searches
of title words), book detail 20% (2,000 books), home 10%. Within each kind URLs are drawn by
popularity, Zipf with s = 1 (the first URL is asked twice as often as the second, ...), as
shoppers' traffic is. The hit rate is the share of ``X-Cache-Status`` HIT/STALE/UPDATING
(answered without gunicorn) among the measured answers; it depends on the mix, the run's
length and what the cache already held, so the script prints all three.
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode, urlsplit

import django

from bench.bench_cart import Visitor, anonymous_visitor, cart_add
from bench.checks import run_watched, watch_breaker
from bench.cpu import CpuSnapshot, describe_usage
from bench.loadgen import Request, Result
from bench.targets import Target, ratio_verdict
from bench.wrk import CONNECTIONS, DURATION_S, THREADS, WARMUP_S, WrkReport, run_wrk

MIN_BOOKS = int(os.environ.get("BENCH_MIN_BOOKS", "100000"))
BOOK_COUNT = int(os.environ.get("BENCH_PAGES_BOOKS", "200"))
# Other books for the change run: each is changed once and then asked for once (50/s for the
# 2 s warm-up and the 20 s measured: 1,100 first views).
CHANGE_BOOK_COUNT = int(os.environ.get("BENCH_PAGES_CHANGE_BOOKS", "1100"))
CHANGE_WARMUP = 2.0
SESSION_VISITORS, SESSION_LINES = 16, 3
CART_VISITORS, CART_LINES = 8, 40
CHANGE_RATE = float(os.environ.get("BENCH_PAGES_CHANGE_RATE", "50"))
CHANGE_DURATION = float(os.environ.get("BENCH_PAGES_CHANGE_DURATION", "20"))
IN_PROCESS_ROUNDS = int(os.environ.get("BENCH_PAGES_IN_PROCESS_ROUNDS", "10"))
IN_PROCESS_BATCH = int(os.environ.get("BENCH_PAGES_IN_PROCESS_BATCH", "200"))
# The HTTP cache `make up` starts (scripts/nginx.sh, on NGINX_PORT).
HTTP_CACHE_URL = os.environ.get("BENCH_HTTP_CACHE_URL") or f"http://127.0.0.1:{os.environ.get('NGINX_PORT') or 8080}"
HTTP_CACHE_RATE = float(os.environ.get("BENCH_HTTP_CACHE_RATE", "50"))
HTTP_CACHE_DURATION = float(os.environ.get("BENCH_HTTP_CACHE_DURATION", "30"))
HTTP_CACHE_MIX = (("browse", 40), ("search", 30), ("book detail", 20), ("home", 10))
# X-Cache-Status values that mean nginx answered without asking gunicorn.
SERVED_BY_CACHE = {"HIT", "STALE", "UPDATING"}

ANONYMOUS_PAGE = Target(min_rate=1000, max_p99_ms=50)
SESSION_PAGE = Target(min_rate=400)
CART_PAGE = Target(min_rate=300)
FIRST_VIEW_AFTER_CHANGE = Target(max_p95_ms=30)
IN_PROCESS_MAX_RATIO = 4.0
SORTS = ["", "price", "-price", "rating", "newest", "title"]


@dataclass
class PageRun:
    """One closed-loop wrk run, its target and its place relative to the ``/health`` floor."""

    name: str
    report: WrkReport
    target: Target | None
    floor_rate: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        latency = self.report.latency_ms
        ratio = f"{self.report.rate / self.floor_rate:4.2f}x /health" if self.floor_rate else "floor"
        verdict = (
            self.target.verdict(
                rate=self.report.rate,
                p95_ms=latency.get("p95", float("nan")),
                p99_ms=latency.get("p99", float("nan")),
                problems=self.report.errors + self.report.non_2xx,
            )
            if self.target
            else "—"
        )
        return (
            f"{self.name:<40} {self.report.rate:8.1f} req/s ({ratio})  "
            f"p50={latency.get('p50', 0):6.2f} p95={latency.get('p95', 0):6.2f} p99={latency.get('p99', 0):6.2f} ms  "
            f"n={self.report.requests} errors={self.report.errors} non-2xx={self.report.non_2xx}  "
            f"X-Page-Cache {self.report.header_summary('X-Page-Cache')}  {verdict}"
        )


@dataclass
class Note:
    """A line of the report that is not a run (the in-process ratio, a skipped part)."""

    text: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        return self.text


@dataclass
class Sample:
    book_ids: list[int]
    book_urls: list[str]
    changed_ids: list[int]
    changed_urls: list[str]
    category_url: str
    # For the HTTP-cache mix:
    browse_urls: list[str]
    search_urls: list[str]
    detail_urls: list[str]


def _sample() -> Sample:
    """The pages the benchmark asks for, drawn from the stack's catalog (the same on every run)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from catalog.models import Book, Category

    total = Book.objects.count()
    if total < MIN_BOOKS:
        raise SystemExit(f"the benchmark needs {MIN_BOOKS:,} books and the stack has {total:,}: run `make seed`")
    rng = random.Random(9)
    # Books with plenty of stock (carts can take them), spread over the catalog, the same
    # ones on every run.
    in_stock = list(Book.objects.filter(inventory__stock_on_hand__gte=100).order_by("id").values_list("id", flat=True))
    wanted = max(BOOK_COUNT, 2000) + CHANGE_BOOK_COUNT
    if len(in_stock) < wanted:
        raise SystemExit(f"the benchmark needs {wanted:,} books with stock ≥ 100 and the stack has {len(in_stock):,}")
    ids = rng.sample(in_stock, wanted)
    stocked = {book.pk: book.get_absolute_url() for book in Book.objects.filter(pk__in=ids).only("isbn13", "slug")}
    page_ids = sorted(ids[:BOOK_COUNT])
    changed_ids = sorted(ids[-CHANGE_BOOK_COUNT:])
    categories = list(Category.objects.order_by("path"))
    roots = [category for category in categories if category.depth == 0]
    browse = [f"/books/?{urlencode({'sort': sort, 'page': page})}" for page in range(1, 6) for sort in SORTS]
    browse += [f"{category.get_absolute_url()}?page={page}" for category in categories for page in (1, 2, 3)]
    rng.shuffle(browse)
    titles = list(Book.objects.filter(id__in=ids[:300]).order_by("id").values_list("title", flat=True))
    words = [next((word for word in title.split() if len(word) > 3), title.split()[0]) for title in titles]
    searches = list(dict.fromkeys(f"/search/?{urlencode({'q': word})}" for word in words))
    return Sample(
        book_ids=page_ids,
        book_urls=[stocked[book_id] for book_id in page_ids],
        changed_ids=changed_ids,
        changed_urls=[stocked[book_id] for book_id in changed_ids],
        category_url=roots[0].get_absolute_url(),
        browse_urls=browse,
        search_urls=searches,
        detail_urls=[stocked[book_id] for book_id in ids[:2000]],
    )


def _closed_loop(name: str, base_url: str, lines: Sequence[tuple[str, str]], target: Target | None) -> PageRun:
    print(f"  running {name} …", flush=True)
    with watch_breaker() as breaker:
        if WARMUP_S >= 1:
            run_wrk(base_url, lines, duration_s=WARMUP_S)
        cpu_before = CpuSnapshot.take()
        report = run_wrk(base_url, lines)
        cpu_after = CpuSnapshot.take()
    run = PageRun(name=name, report=report, target=target)
    run.notes.append(
        "  " + describe_usage(cpu_before, cpu_after, elapsed_s=report.duration_s, requests=report.requests)
    )
    run.problems.extend(breaker.problems(name))
    if report.errors:
        run.problems.append(f"{name}: {report.errors} request(s) got no answer ({report.socket_errors})")
    return run


def _visitors(base_url: str, sample: Sample, count: int, lines: int, rng: random.Random) -> list[Visitor]:
    """``count`` visitors with ``lines`` books each in their carts, made over HTTP as browsers make them."""
    visitors = []
    for index in range(count):
        visitor = anonymous_visitor(base_url, sample.book_urls[index % len(sample.book_urls)])
        for book_id in rng.sample(sample.book_ids, lines):
            cart_add(base_url, visitor, book_id)
        visitors.append(visitor)
    return visitors


def _fetch(base_url: str, path: str) -> int:
    """One sequential GET (setup and warming), returning the status."""
    import http.client

    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _price_changer(book_ids: list[int]) -> tuple[Callable[[], dict[int, bytes]], Callable[[], None]]:
    """``change()`` raises every price 1% through the service layer (one transaction) and returns each
    new price as shown; ``restore()`` puts every original price back."""
    from django.db import transaction

    from catalog.markup import money
    from catalog.models import Book
    from catalog.services import announce_books_changed, books_adjust_price

    originals = {book.pk: book.price for book in Book.objects.filter(pk__in=book_ids).only("id", "price")}

    def change() -> dict[int, bytes]:
        books_adjust_price(book_ids=book_ids, percent=Decimal("1"))
        prices = Book.objects.filter(pk__in=book_ids).values_list("pk", "price", "currency")
        return {book_id: money(price, currency).encode() for book_id, price, currency in prices}

    def restore() -> None:
        with transaction.atomic():
            books = list(Book.objects.select_for_update().filter(pk__in=list(originals)).order_by("pk"))
            for book in books:
                book.price = originals[book.pk]
            Book.objects.bulk_update(books, ["price"])
            announce_books_changed(list(originals))

    return change, restore


def _wait_for_celery_queue(timeout_s: float = 120.0) -> None:
    """Until the stack's Celery queue is empty (the side effects of a change), at most ``timeout_s``."""
    import redis

    broker = redis.Redis.from_url(os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:56379/2")
    deadline = time.monotonic() + timeout_s
    while broker.llen("celery") and time.monotonic() < deadline:
        time.sleep(0.25)
    time.sleep(1.0)  # the task a worker took last is still running


def _first_view_after_change(base_url: str, sample: Sample) -> Result:
    # Every page is in the page cache before it changes (four fetches at a time).
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = Counter(pool.map(lambda url: _fetch(base_url, url), sample.changed_urls))
    if set(statuses) != {200}:
        raise SystemExit(f"first view after a change: warming the book pages answered {dict(statuses)}")
    if len(sample.changed_ids) < CHANGE_RATE * (CHANGE_WARMUP + CHANGE_DURATION):
        raise SystemExit("first view after a change: too few books for one first view per request")
    change, restore = _price_changer(sample.changed_ids)
    new_prices = change()
    _wait_for_celery_queue()
    pages = list(zip(sample.changed_ids, sample.changed_urls, strict=True))

    def next_request(index: int) -> Request:
        book_id, url = pages[index % len(pages)]
        return Request(url, before=lambda: new_prices[book_id])

    name = f"pages: first view after a change @{CHANGE_RATE:.0f}/s"
    try:
        result = run_watched(
            name,
            base_url,
            next_request,
            rate=CHANGE_RATE,
            duration_s=CHANGE_DURATION,
            warmup_s=CHANGE_WARMUP,
            target=FIRST_VIEW_AFTER_CHANGE,
        )
    finally:
        restore()
    missing = result.seen.get("expected content", {}).get("missing", 0)
    if missing:
        result.problems.append(
            f"{name}: {missing} of {len(result.latencies_ms)} answers did not show the new price "
            "(served from a page the change did not retire: that is a cache hit, not a rebuild)"
        )
    return result


def _in_process_ratio(book_url: str) -> Note:
    """Median cost of a cached anonymous page over ``/health``, through the full middleware, no HTTP."""
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    states: dict[str, int] = {}
    for _ in range(3):  # render, store, then served from the page cache
        client.get(book_url)
    timings: dict[str, list[float]] = {"/health": [], book_url: []}
    for _ in range(IN_PROCESS_ROUNDS):
        for path, durations in timings.items():
            for _ in range(IN_PROCESS_BATCH):
                started = time.perf_counter()
                response = client.get(path)
                durations.append(time.perf_counter() - started)
                if path == book_url:
                    state = response.headers.get("X-Page-Cache", "(absent)")
                    states[state] = states.get(state, 0) + 1
                if response.status_code != 200:
                    raise SystemExit(f"in-process: GET {path} answered {response.status_code}")
    health_ms = statistics.median(timings["/health"]) * 1000
    page_ms = statistics.median(timings[book_url]) * 1000
    ratio = page_ms / health_ms if health_ms else float("nan")
    count = IN_PROCESS_ROUNDS * IN_PROCESS_BATCH
    return Note(
        f"{'pages: in-process cached page vs /health':<40} page {page_ms:.3f} ms, /health {health_ms:.3f} ms "
        f"(medians of {count} each)  ratio {ratio:.2f}x  X-Page-Cache "
        + " ".join(f"{state}:{n}" for state, n in sorted(states.items()))
        + f"  {ratio_verdict(ratio, IN_PROCESS_MAX_RATIO)}"
    )


def _is_listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def zipf_picker(urls: Sequence[str], rng: random.Random, exponent: float = 1.0) -> Callable[[], str]:
    """Draw from ``urls`` by popularity: the k-th (from 1) with weight 1 / k**exponent."""
    if not urls:
        raise ValueError("no URLs to draw from")
    weights = [1 / (rank**exponent) for rank in range(1, len(urls) + 1)]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    return lambda: rng.choices(urls, cum_weights=cumulative)[0]


def hit_rate(seen: dict[str, int]) -> float:
    """Share of answers nginx gave without gunicorn (HIT, STALE, UPDATING), from ``X-Cache-Status`` counts."""
    total = sum(seen.values())
    served = sum(count for status, count in seen.items() if status.upper() in SERVED_BY_CACHE)
    return served / total if total else float("nan")


def _http_cache_hit_rate(sample: Sample) -> Result | Note:
    name = "pages: HTTP cache mix via nginx"
    if not _is_listening(HTTP_CACHE_URL):
        return Note(f"{name:<40} SKIPPED: nothing listens on {HTTP_CACHE_URL} (`make up` starts the HTTP cache)")
    rng = random.Random("http-cache")
    pickers: dict[str, Callable[[], str]] = {
        "browse": zipf_picker(sample.browse_urls, rng),
        "search": zipf_picker(sample.search_urls, rng),
        "book detail": zipf_picker(sample.detail_urls, rng),
        "home": lambda: "/",
    }
    kinds = [kind for kind, _weight in HTTP_CACHE_MIX]
    weights = [weight for _kind, weight in HTTP_CACHE_MIX]

    def next_request(_index: int) -> Request:
        kind = rng.choices(kinds, weights)[0]
        return Request(pickers[kind](), label=kind)

    result = run_watched(
        name, HTTP_CACHE_URL, next_request, rate=HTTP_CACHE_RATE, duration_s=HTTP_CACHE_DURATION, warmup_s=5
    )
    statuses = result.seen.get("x-cache-status", {})
    mix = ", ".join(f"{kind} {weight}%" for kind, weight in HTTP_CACHE_MIX)
    result.notes.append(
        f"  hit rate {hit_rate(statuses):.1%} of {sum(statuses.values())} answers (X-Cache-Status HIT/STALE/UPDATING); "
        f"mix {mix}, Zipf over {len(sample.browse_urls)} browse, {len(sample.search_urls)} search and "
        f"{len(sample.detail_urls)} book URLs, {HTTP_CACHE_DURATION:.0f} s at {HTTP_CACHE_RATE:.0f}/s after 5 s"
    )
    for kind, labelled in sorted(result.by_label.items()):
        labelled_statuses = labelled.seen.get("x-cache-status", {})
        result.notes.append(f"    {kind}: hit rate {hit_rate(labelled_statuses):.1%} of {len(labelled.latencies_ms)}")
    return result


def run(base_url: str) -> list[PageRun | Result | Note]:
    sample = _sample()
    rng = random.Random(11)
    print(
        f"  closed loop: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION_S:.0f}s after {WARMUP_S:.0f} s of the same load; "
        f"{len(sample.book_urls)} book pages",
        flush=True,
    )
    anonymous_books = [(url, "") for url in sample.book_urls]
    floor = _closed_loop("pages: floor /health (before)", base_url, [("/health", "")], None)
    runs: list[PageRun | Result | Note] = [floor]
    plan: list[tuple[str, Callable[[], Sequence[tuple[str, str]]], Target]] = [
        (f"pages: book detail, {len(anonymous_books)} books", lambda: anonymous_books, ANONYMOUS_PAGE),
        ("pages: /books/", lambda: [("/books/", "")], ANONYMOUS_PAGE),
        (f"pages: category {sample.category_url}", lambda: [(sample.category_url, "")], ANONYMOUS_PAGE),
        ("pages: home", lambda: [("/", "")], ANONYMOUS_PAGE),
    ]
    pages: list[PageRun] = []
    for name, lines, target in plan:
        page_run = _closed_loop(name, base_url, lines(), target)
        pages.append(page_run)
    session_visitors = _visitors(base_url, sample, SESSION_VISITORS, SESSION_LINES, rng)
    cart_visitors = _visitors(base_url, sample, CART_VISITORS, CART_LINES, rng)
    session_books = [
        (url, session_visitors[index % len(session_visitors)].cookie) for index, url in enumerate(sample.book_urls)
    ]
    for name, url_lines, target in [
        (f"pages: book detail, session + {SESSION_LINES}-line cart", session_books, SESSION_PAGE),
        (f"pages: cart page, {CART_LINES} lines", [("/cart/", visitor.cookie) for visitor in cart_visitors], CART_PAGE),
    ]:
        page_run = _closed_loop(name, base_url, url_lines, target)
        pages.append(page_run)
    floor_after = _closed_loop("pages: floor /health (after)", base_url, [("/health", "")], None)
    mean_floor = (floor.report.rate + floor_after.report.rate) / 2
    for page_run in pages:
        page_run.floor_rate = mean_floor  # the ratio to the floor's mean over the whole invocation
    floor_after.notes.append(
        f"  ratios above are to the mean of the two floors, {mean_floor:,.0f} req/s "
        f"(before {floor.report.rate:,.0f}, after {floor_after.report.rate:,.0f}: their gap is the machine's noise)"
    )
    runs += [*pages, floor_after]
    runs.append(_first_view_after_change(base_url, sample))
    runs.append(_in_process_ratio(sample.book_urls[0]))
    runs.append(_http_cache_hit_rate(sample))
    return runs
