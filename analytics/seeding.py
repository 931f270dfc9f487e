"""A deterministic synthetic year of shop activity for the reports (``manage.py seed_analytics``).

From the catalog already loaded (``seed_catalog``), for each of the ``days`` whole UTC days before
today (today is left to live events): orders with lines (paid, shipped, cancelled after payment,
and checkouts whose card was declined), product views, adds to cart and searches, with a weekly
rhythm (weekends busier), a yearly one (a December peak), slow growth and day-to-day noise;
books are drawn by their ``popularity`` (a few sell most), and search queries come from titles
and authors of the catalog, with some typos that find nothing.

The roll-ups are written from the same draws, so they agree with the raw rows: ``SiteDay`` and
``BookDay`` count every paid order on the day it was paid (cancelled later or not, as the live
``order_placed`` event does) and every order created as a checkout; ``SearchDay`` counts the
searches, of which the ``SearchLog`` rows are kept for the days within
``SEARCH_LOG_RETENTION_DAYS``. Everything is drawn from one ``random.Random(seed)``; only the
ids depend on what the database held before. Rows go in with ``COPY`` (Postgres) or
``executemany`` (SQLite), one transaction for the whole seed.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from analytics.events import normalize_query
from analytics.models import BookDay, SearchDay, SearchLog, SiteDay
from cart.models import ORDER_REFERENCE_ALPHABET, Order, OrderLine
from catalog.models import Book, BookAuthor
from cloudshelf.database import rows_insert

MIN_DAYS, MAX_DAYS = 1, 730
MIN_ORDERS_PER_DAY, MAX_ORDERS_PER_DAY = 1, 5000
DEFAULT_ORDERS_PER_DAY = 120
BUYERS = 400
# Books the draws come from: the most popular ones (a long tail beyond them sells nothing, as in life).
SAMPLE_BOOKS = 20_000
# Per paid order: views, adds to cart and searches of the day (rounded, with noise).
VIEWS_PER_ORDER = 45
ADDS_PER_ORDER = 5
SEARCHES_PER_ORDER = 16
DECLINED_SHARE = 0.04
CANCELLED_SHARE = 0.02
TYPO_SHARE = 0.08
# Monday..Sunday.
WEEKDAY_FACTOR = (0.92, 0.95, 1.0, 1.0, 1.05, 1.2, 1.15)
# Hours of the day (UTC) orders are placed in, busiest in the evening.
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 9, 7, 4, 2)
_CENT = Decimal("0.01")


class AnalyticsSeedError(Exception):
    """The seed cannot run (no catalog, data already there, bad arguments); ``str()`` says why."""


@dataclass
class AnalyticsSeedSummary:
    days: int = 0
    orders: int = 0
    lines: int = 0
    views: int = 0
    adds: int = 0
    searches: int = 0
    search_logs: int = 0


@dataclass
class _Tally:
    """One roll-up row being drawn (the columns of ``_COUNTS``, in order)."""

    views: int = 0
    adds: int = 0
    checkouts: int = 0
    orders: int = 0
    units: int = 0
    revenue: Decimal = Decimal("0")

    def values(self) -> tuple[int | Decimal, ...]:
        return (self.views, self.adds, self.checkouts, self.orders, self.units, self.revenue.quantize(_CENT))


@dataclass(frozen=True)
class _Book:
    pk: int
    title: str
    isbn13: str
    price: Decimal


def has_analytics_data() -> bool:
    """Whether the reports already have something to show (then a seed would mix with it)."""
    return SiteDay.objects.exists() or SearchDay.objects.exists()


def analytics_seed(
    *,
    days: int,
    seed: int = 1,
    orders_per_day: int = DEFAULT_ORDERS_PER_DAY,
    progress: Callable[[int], None] | None = None,
) -> AnalyticsSeedSummary:
    """Write ``days`` days of activity ending yesterday; ``progress(1)`` is called after each day."""
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise AnalyticsSeedError(f"days must be from {MIN_DAYS} to {MAX_DAYS} (got {days!r}).")
    if not MIN_ORDERS_PER_DAY <= orders_per_day <= MAX_ORDERS_PER_DAY:
        raise AnalyticsSeedError(f"orders per day must be from {MIN_ORDERS_PER_DAY} to {MAX_ORDERS_PER_DAY}.")
    rng = random.Random(seed)
    drawn = _books()
    books = [book for book, _ in drawn]
    if not books:
        raise AnalyticsSeedError(
            f"The catalog has no books priced in {settings.ANALYTICS_CURRENCY}: run `manage.py seed_catalog` first."
        )
    if has_analytics_data():
        raise AnalyticsSeedError("The reports already have data: seed only an empty analytics store (--if-empty).")
    weights = _cumulative([math.sqrt(popularity + 1) for _, popularity in drawn])
    queries = _search_queries(rng, books)
    summary = AnalyticsSeedSummary(days=days)
    today = timezone.localdate()
    log_since = today - timedelta(days=settings.SEARCH_LOG_RETENTION_DAYS)
    with transaction.atomic():
        buyers = _buyers(rng)
        for offset in range(days, 0, -1):
            day = today - timedelta(days=offset)
            _seed_day(rng, day, summary, books, weights, queries, buyers, orders_per_day, days, day >= log_since)
            if progress:
                progress(1)
    _analyze()
    return summary


def _analyze() -> None:
    """Fresh planner statistics for the tables just filled (the reports' plans depend on them)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(
        connection.ops.quote_name(model._meta.db_table)
        for model in (Order, OrderLine, BookDay, SiteDay, SearchDay, SearchLog)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _books() -> list[tuple[_Book, int]]:
    """The most popular books priced in the reports' currency, with their popularity."""
    rows = (
        Book.objects.filter(currency=settings.ANALYTICS_CURRENCY, price__gt=0)
        .order_by("-popularity", "pk")
        .values_list("pk", "title", "isbn13", "price", "popularity")[:SAMPLE_BOOKS]
    )
    return [
        (_Book(pk=pk, title=title, isbn13=isbn13, price=price), popularity)
        for pk, title, isbn13, price, popularity in rows
    ]


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, result = 0.0, []
    for weight in weights:
        total += weight
        result.append(total)
    return result


def _buyers(rng: random.Random) -> list[int]:
    """Customer accounts for the orders; they cannot log in (an unusable password costs no hashing)."""
    user_model = get_user_model()
    usernames = [f"seed-buyer-{index:04d}" for index in range(1, BUYERS + 1)]
    user_model.objects.bulk_create(
        [user_model(username=name, email=f"{name}@example.com", password=make_password(None)) for name in usernames],
        batch_size=1000,
        ignore_conflicts=True,
    )
    ids = dict(user_model.objects.filter(username__in=usernames).values_list("username", "pk"))
    return [ids[name] for name in usernames]


def _search_queries(rng: random.Random, books: Sequence[_Book]) -> list[tuple[str, int]]:
    """``(query, result count)`` pairs, most popular first: title words of the top books, and typos of them."""
    queries: dict[str, int] = {}
    for book in books[:3000]:
        words = normalize_query(book.title).split()
        if not words:
            continue
        query = " ".join(words[: rng.choice((1, 2, 2, 3))])
        queries.setdefault(query, 1 + int(200 / (1 + len(query))) + rng.randrange(5))
    top = [book.pk for book in books[:3000]]
    for name in (
        BookAuthor.objects.filter(book_id__in=top)
        .order_by("book_id", "position")
        .values_list("author__name", flat=True)[:1000]
    ):
        queries.setdefault(normalize_query(name), 1 + rng.randrange(12))
    found = list(queries.items())
    typos = []
    for query, _ in found[: int(len(found) * TYPO_SHARE) + 1]:
        if len(query) > 3:
            index = rng.randrange(1, len(query) - 1)
            typos.append((query[:index] + query[index + 1 :] + rng.choice("xqz"), 0))
    pool = found + typos
    rng.shuffle(pool)
    return pool


def _day_factor(rng: random.Random, day: date, index_from_start: int, days: int) -> float:
    season = 1 + 0.25 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 350) / 365)
    growth = 0.8 + 0.2 * index_from_start / max(days - 1, 1)
    return season * growth * WEEKDAY_FACTOR[day.weekday()] * rng.lognormvariate(0, 0.1)


def _at(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=UTC)


def _reference(rng: random.Random) -> str:
    body = "".join(rng.choice(ORDER_REFERENCE_ALPHABET) for _ in range(8))
    return f"CS-{body[:4]}-{body[4:]}"


def _seed_day(
    rng: random.Random,
    day: date,
    summary: AnalyticsSeedSummary,
    books: Sequence[_Book],
    weights: Sequence[float],
    queries: Sequence[tuple[str, int]],
    buyers: Sequence[int],
    orders_per_day: int,
    days: int,
    keeps_search_log: bool,
) -> None:
    factor = _day_factor(rng, day, days - (timezone.localdate() - day).days, days)
    paid_count = max(1, round(orders_per_day * factor))
    declined_count = round(paid_count * DECLINED_SHARE * rng.uniform(0.5, 1.5))
    per_book: dict[int, _Tally] = defaultdict(_Tally)
    site = _Tally()
    orders: list[tuple[Any, ...]] = []
    lines: list[tuple[Any, ...]] = []
    order_ids = _new_ids(Order, paid_count + declined_count)
    for number, order_id in enumerate(order_ids):
        is_paid = number < paid_count
        chosen = _order_books(rng, books, weights)
        created = _at(rng, day)
        total = Decimal("0")
        for book, quantity in chosen:
            lines.append((order_id, book.pk, book.title, book.isbn13, book.price, quantity))
            amount = book.price * quantity
            total += amount
            counts = per_book[book.pk]
            counts.checkouts += 1
            if is_paid:
                counts.orders += 1
                counts.units += quantity
                counts.revenue += amount
                site.units += quantity
                site.revenue += amount
        site.checkouts += 1
        site.orders += int(is_paid)
        orders.append(_order_row(rng, order_id, rng.choice(buyers), created, total, is_paid, day))
    views = round(paid_count * VIEWS_PER_ORDER * rng.uniform(0.9, 1.1))
    adds = round(paid_count * ADDS_PER_ORDER * rng.uniform(0.9, 1.1))
    for pk, count in Counter(book.pk for book in rng.choices(books, cum_weights=weights, k=views)).items():
        per_book[pk].views += count
    for pk, count in Counter(book.pk for book in rng.choices(books, cum_weights=weights, k=adds)).items():
        per_book[pk].adds += count
    site.views, site.adds = views, adds
    rows_insert(Order, _ORDER_FIELDS, orders)
    rows_insert(
        OrderLine, _LINE_FIELDS, [(pk, *line) for pk, line in zip(_new_ids(OrderLine, len(lines)), lines, strict=True)]
    )
    rows_insert(
        BookDay, ("day", "book_id", *_COUNTS), [(day, pk, *counts.values()) for pk, counts in sorted(per_book.items())]
    )
    rows_insert(SiteDay, ("day", *_COUNTS), [(day, *site.values())])
    searches = _seed_searches(rng, day, queries, round(paid_count * SEARCHES_PER_ORDER * rng.uniform(0.9, 1.1)))
    if keeps_search_log:
        rows_insert(SearchLog, _LOG_FIELDS, searches)
        summary.search_logs += len(searches)
    summary.orders += len(orders)
    summary.lines += len(lines)
    summary.views += views
    summary.adds += adds
    summary.searches += len(searches)


_COUNTS = ("views", "adds", "checkouts", "orders", "units", "revenue")
_ORDER_FIELDS = (
    "id",
    "user",
    "reference",
    "status",
    "idempotency_key",
    "currency",
    "total",
    "shipping_name",
    "shipping_line1",
    "shipping_line2",
    "shipping_city",
    "shipping_region",
    "shipping_postal_code",
    "shipping_country",
    "payment_provider",
    "payment_reference",
    "card_last4",
    "payment_declined",
    "payment_message",
    "payment_attempts",
    "payment_checks",
    "needs_attention",
    "cart_key",
    "created_at",
    "paid_at",
    "shipped_at",
    "cancelled_at",
)
_LINE_FIELDS = ("id", "order", "book", "title", "isbn13", "unit_price", "quantity")
_LOG_FIELDS = (
    "query",
    "filters",
    "sort",
    "page",
    "result_count",
    "latency_ms",
    "is_zero_result",
    "backend",
    "searched_at",
)
_CITIES = (("Portland", "OR", "97201"), ("Austin", "TX", "73301"), ("Boston", "MA", "02108"), ("Denver", "CO", "80202"))


def _order_books(rng: random.Random, books: Sequence[_Book], weights: Sequence[float]) -> list[tuple[_Book, int]]:
    """One to three different books, mostly one copy each."""
    wanted = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    chosen: dict[int, _Book] = {}
    while len(chosen) < wanted:
        book = rng.choices(books, cum_weights=weights)[0]
        chosen[book.pk] = book
        if len(chosen) >= len(books):
            break
    return [(book, rng.choices((1, 2), weights=(9, 1))[0]) for book in chosen.values()]


def _order_row(
    rng: random.Random, order_id: int, user_id: int, created: datetime, total: Decimal, is_paid: bool, day: date
) -> tuple[Any, ...]:
    """An order as the cart app would have left it: paid, shipped, cancelled after payment, or declined."""
    # Paid seconds later, on the same day (the roll-ups count it on the day it was paid).
    day_end = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    paid_at = min(created + timedelta(seconds=rng.randrange(2, 20)), day_end) if is_paid else None
    status, shipped_at, cancelled_at = Order.Status.PAID, None, None
    if not is_paid:
        status, cancelled_at = Order.Status.CANCELLED, created + timedelta(seconds=3)
    elif rng.random() < CANCELLED_SHARE:
        status, cancelled_at = Order.Status.CANCELLED, min(created + timedelta(hours=rng.randrange(1, 6)), day_end)
    elif day < timezone.localdate() - timedelta(days=2):
        status, shipped_at = Order.Status.SHIPPED, created + timedelta(days=rng.choice((1, 1, 2)))
    city, region, postal_code = rng.choice(_CITIES)
    return (
        order_id,
        user_id,
        _reference(rng),
        status,
        uuid.UUID(int=rng.getrandbits(128), version=4),
        settings.ANALYTICS_CURRENCY,
        total.quantize(_CENT),
        "Seed Customer",
        f"{rng.randrange(1, 999)} Main Street",
        "",
        city,
        region,
        postal_code,
        "US",
        "seed",
        f"seed-{order_id}",
        "4242",
        not is_paid,
        "" if is_paid else "The card was declined.",
        1,
        0,
        False,
        "",
        created,
        paid_at,
        shipped_at,
        cancelled_at,
    )


def _seed_searches(
    rng: random.Random, day: date, queries: Sequence[tuple[str, int]], count: int
) -> list[tuple[Any, ...]]:
    """The day's searches (first pages): ``SearchDay`` rows written here, ``SearchLog`` rows returned."""
    ranks = [1 / (rank + 1) for rank in range(len(queries))]
    drawn = rng.choices(queries, weights=ranks, k=count)
    per_query: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    logs = []
    # COPY reads JSON as text; executemany takes what the field prepares.
    no_filters: object = "{}" if connection.vendor == "postgresql" else {}
    for query, results in drawn:
        counts = per_query[query]
        counts[0] += 1
        counts[1] += int(results == 0)
        counts[2] += results
        logs.append(
            (
                query,
                no_filters,
                "relevance",
                1,
                results,
                round(rng.uniform(4, 60), 1),
                results == 0,
                "opensearch",
                _at(rng, day),
            )
        )
    rows_insert(
        SearchDay,
        ("day", "query", "searches", "zero_results", "results_total"),
        [(day, query, *counts) for query, counts in sorted(per_query.items())],
    )
    return logs


def _new_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys of ``model`` (from its sequence on Postgres; after the highest elsewhere)."""
    if count == 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count]
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        highest = cursor.fetchone()[0]
    return list(range(highest + 1, highest + 1 + count))
