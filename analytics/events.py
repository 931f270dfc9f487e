"""Shop events for staff reports: recorded off the request path, counted into daily roll-ups.

``record_event`` is what listeners call (``analytics.receivers``, and the real-user monitoring
beacon for product views). It validates the event and hands it to the buffer
(``analytics.buffer``, stream ``"events"``; searches go to stream ``"search"``, which also keeps
the raw ``SearchLog`` row). The flush adds each batch into ``BookDay``, ``SiteDay`` and
``SearchDay`` with one upsert per table: the batch is first summed in memory by key, then
``INSERT ... ON CONFLICT DO UPDATE SET n = table.n + EXCLUDED.n``, which Django's
``bulk_create(update_conflicts=True)`` cannot express (it overwrites, it does not add).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics import buffer
from analytics.models import BookDay, SearchDay, SearchLog, SiteDay

logger = logging.getLogger(__name__)

EVENT_KINDS = ("product_view", "search", "add_to_cart", "checkout_started", "order_placed")
# The roll-up counter each kind adds to (searches have their own table).
_COUNTER = {"product_view": "views", "add_to_cart": "adds", "checkout_started": "checkouts", "order_placed": "orders"}
EVENTS_STREAM = "events"
SEARCH_STREAM = "search"
# Bounds of what an event may carry: anything outside is a bug or an attack, not a sale.
MAX_ID = 2**63 - 1
MAX_QUANTITY = 10_000
MAX_AMOUNT = Decimal("1000000000")
MAX_LINES = 500
QUERY_MAX_LENGTH = 200
_SPACES = re.compile(r"\s+")


class EventError(ValueError):
    """An event that cannot be recorded (unknown kind, value out of bounds)."""


def normalize_query(query: str) -> str:
    """The form searches are counted under: trimmed, lower case, inner spaces collapsed, at most 200 characters."""
    return _SPACES.sub(" ", query).strip().lower()[:QUERY_MAX_LENGTH]


def _book_id(raw: object) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_ID:
        raise EventError(f"book id must be a positive integer: {raw!r}")
    return raw


def _quantity(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_QUANTITY:
        raise EventError(f"quantity must be 1..{MAX_QUANTITY}: {raw!r}")
    return raw


def _amount(raw: object) -> Decimal:
    if raw is None:
        return Decimal("0.00")
    try:
        amount = Decimal(str(raw))
    except InvalidOperation:
        raise EventError(f"amount is not a number: {raw!r}") from None
    if not amount.is_finite() or not Decimal("0") <= amount < MAX_AMOUNT:
        raise EventError(f"amount must be 0..{MAX_AMOUNT}: {raw!r}")
    return amount.quantize(Decimal("0.01"))


def _occurred_at(raw: object) -> datetime:
    if raw is None:
        return timezone.now()
    when = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
    if not isinstance(when, datetime) or timezone.is_naive(when):
        raise EventError(f"occurred_at must be an aware datetime: {raw!r}")
    return when


def record_event(
    kind: str,
    *,
    book_id: int | None = None,
    category_id: int | None = None,
    quantity: int = 1,
    amount: Decimal | None = None,
    query: str = "",
    result_count: int | None = None,
    occurred_at: datetime | None = None,
) -> None:
    """Record one shop event for the reports. Never raises and never waits for Postgres.

    ``amount`` is what an ``order_placed`` line was sold for (``quantity`` copies together);
    ``query`` and ``result_count`` belong to ``search``. ``category_id`` is accepted for callers
    that know it, but reports take a book's category from the catalog when they run. An event
    that fails validation is dropped with a warning.
    """
    try:
        if kind not in EVENT_KINDS:
            raise EventError(f"unknown event kind {kind!r}")
        when = _occurred_at(occurred_at)
        if kind == "search":
            if not isinstance(query, str) or (result_count is not None and not 0 <= result_count <= MAX_ID):
                raise EventError("a search needs a query string and a result count of 0 or more")
            count = result_count or 0
            event = {"query": query[:QUERY_MAX_LENGTH], "result_count": count, "is_zero_result": count == 0}
            buffer.enqueue(SEARCH_STREAM, {**event, "searched_at": when.isoformat()})
            return
        lines = [(_book_id(book_id), _quantity(quantity), _amount(amount))] if book_id is not None else []
        _enqueue_event(kind, lines=lines, units=_quantity(quantity), when=when)
    except Exception:  # analytics must never break the page that records it
        logger.warning("analytics: dropped a %r event", kind, exc_info=True)


def record_order_event(
    kind: str, *, lines: Sequence[tuple[int, int, Decimal]], occurred_at: datetime | None = None
) -> None:
    """Record one checkout or order of several books: ``lines`` are ``(book_id, quantity, amount)``.

    Counts once in the shop's totals and once per line for each book. Never raises.
    """
    try:
        if kind not in ("checkout_started", "order_placed") or not 0 < len(lines) <= MAX_LINES:
            raise EventError(f"an order event of kind {kind!r} with {len(lines)} lines")
        checked = [(_book_id(book), _quantity(quantity), _amount(amount)) for book, quantity, amount in lines]
        _enqueue_event(kind, lines=checked, units=sum(line[1] for line in checked), when=_occurred_at(occurred_at))
    except Exception:  # analytics must never break the checkout that records it
        logger.warning("analytics: dropped a %r event", kind, exc_info=True)


def _enqueue_event(kind: str, *, lines: list[tuple[int | None, int, Decimal]], units: int, when: datetime) -> None:
    buffer.enqueue(
        EVENTS_STREAM,
        {
            "kind": kind,
            "at": when.isoformat(),
            "units": units,
            "lines": [[book, quantity, str(amount)] for book, quantity, amount in lines],
        },
    )


# --- The writers (run by the flush, inside its transaction) -------------------------------------


@dataclass
class _Counts:
    views: int = 0
    adds: int = 0
    checkouts: int = 0
    orders: int = 0
    units: int = 0
    revenue: Decimal = field(default_factory=lambda: Decimal("0"))

    def add(self, kind: str, units: int, revenue: Decimal) -> None:
        counter = _COUNTER[kind]
        setattr(self, counter, getattr(self, counter) + 1)
        if kind == "order_placed":
            self.units += units
            self.revenue += revenue


_COUNT_FIELDS = ("views", "adds", "checkouts", "orders", "units", "revenue")


def _event_counts(payload: dict[str, Any]) -> tuple[date, str, int, list[tuple[int, int, Decimal]]]:
    kind = payload["kind"]
    if kind not in _COUNTER:
        raise EventError(f"unknown event kind {kind!r}")
    day = timezone.localdate(_occurred_at(payload["at"]))
    lines = [(_book_id(book) or 0, _quantity(quantity), _amount(amount)) for book, quantity, amount in payload["lines"]]
    if any(book == 0 for book, _, _ in lines) or len(lines) > MAX_LINES:
        raise EventError("a line without a book")
    return day, kind, _quantity(payload["units"]), lines


def write_events(payloads: list[dict[str, Any]]) -> int:
    """The ``events`` stream's writer: sum the batch per (day, book) and per day, then one upsert per table."""
    site: dict[date, _Counts] = defaultdict(_Counts)
    books: dict[tuple[date, int], _Counts] = defaultdict(_Counts)
    kept = 0
    for payload in payloads:
        try:
            day, kind, units, lines = _event_counts(payload)
        except (EventError, KeyError, TypeError, ValueError):
            logger.warning("analytics: dropped a malformed event %r", str(payload)[:200])
            continue
        site[day].add(kind, units, sum((line[2] for line in lines), Decimal("0")))
        for book, quantity, amount in lines:
            books[day, book].add(kind, quantity, amount)
        kept += 1
    _upsert(SiteDay._meta.db_table, ("day",), _COUNT_FIELDS, [(day, *_values(counts)) for day, counts in site.items()])
    _upsert(
        BookDay._meta.db_table,
        ("day", "book_id"),
        _COUNT_FIELDS,
        [(day, book, *_values(counts)) for (day, book), counts in books.items()],
    )
    return kept


def _values(counts: _Counts) -> tuple[Any, ...]:
    return tuple(getattr(counts, name) for name in _COUNT_FIELDS)


def _search_log(payload: dict[str, Any]) -> SearchLog:
    return SearchLog(
        query=str(payload.get("query", ""))[:QUERY_MAX_LENGTH],
        filters=payload.get("filters") or {},
        sort=str(payload.get("sort", ""))[:20],
        page=max(int(payload.get("page", 1)), 1),
        result_count=max(int(payload.get("result_count", 0)), 0),
        latency_ms=float(payload.get("latency_ms", 0.0)),
        is_zero_result=bool(payload.get("is_zero_result")),
        backend=str(payload.get("backend", ""))[:16],
        searched_at=_occurred_at(payload.get("searched_at")),
    )


def write_searches(payloads: list[dict[str, Any]]) -> int:
    """The ``search`` stream's writer: the raw ``SearchLog`` rows (one ``bulk_create``) and the
    ``SearchDay`` counts (one upsert). Only first pages count as searches in ``SearchDay``:
    paging through results is not searching again."""
    rows = []
    for payload in payloads:
        try:
            rows.append(_search_log(payload))
        except (EventError, TypeError, ValueError, AttributeError):
            logger.warning("analytics: dropped a malformed search event %r", str(payload)[:200])
    days: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        query = normalize_query(row.query)
        if row.page != 1 or not query:
            continue
        counts = days[timezone.localdate(row.searched_at), query]
        counts[0] += 1
        counts[1] += int(row.is_zero_result)
        counts[2] += row.result_count
    SearchLog.objects.bulk_create(rows)
    _upsert(
        SearchDay._meta.db_table,
        ("day", "query"),
        ("searches", "zero_results", "results_total"),
        [(day, query, *counts) for (day, query), counts in days.items()],
    )
    return len(rows)


def _upsert(table: str, keys: tuple[str, ...], counters: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
    """One ``INSERT ... ON CONFLICT (keys) DO UPDATE SET c = table.c + EXCLUDED.c`` for all ``rows``.

    Rows are sorted by key, so two flushes upserting overlapping keys lock them in the same
    order and cannot deadlock. Postgres and SQLite (3.24+) both speak this form.
    """
    rows = sorted(rows, key=lambda row: row[: len(keys)])
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in (*keys, *counters))
    placeholders = "(" + ", ".join(["%s"] * (len(keys) + len(counters))) + ")"
    updates = ", ".join(f"{quote(name)} = {quote(table)}.{quote(name)} + EXCLUDED.{quote(name)}" for name in counters)
    for start in range(0, len(rows), _UPSERT_ROWS):
        chunk = rows[start : start + _UPSERT_ROWS]
        sql = (
            f"INSERT INTO {quote(table)} ({columns}) VALUES {', '.join([placeholders] * len(chunk))} "
            f"ON CONFLICT ({', '.join(quote(name) for name in keys)}) DO UPDATE SET {updates}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [value for row in chunk for value in row])


# Rows per upsert statement: well under SQLite's 32,766 parameters at 8 columns.
_UPSERT_ROWS = 2000


def register_writers() -> None:
    """Name the writers of the streams analytics owns (``AnalyticsConfig.ready``)."""
    buffer.register_writer(EVENTS_STREAM, write_events)
    buffer.register_writer(SEARCH_STREAM, write_searches)


def analytics_currency() -> str:
    """The currency reports sum revenue in (``ANALYTICS_CURRENCY``)."""
    return str(settings.ANALYTICS_CURRENCY)
