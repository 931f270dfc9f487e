"""A small shop whose report figures are worked out by hand (the numbers in the tests)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from analytics.models import SearchDay, SiteDay
from catalog.models import Book
from tests.factories import BookFactory, CategoryFactory, OrderFactory, OrderLineFactory

START, END = date(2026, 11, 2), date(2026, 11, 11)  # Monday 2 .. Wednesday 11 November: ten days


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@dataclass
class Shop:
    dune: Book
    emma: Book
    cookbook: Book
    loose: Book
    quiet: Book


def sold(*lines, paid_at, status="paid", currency="USD"):
    order = OrderFactory(status=status, paid_at=paid_at, currency=currency)
    for book, quantity, price in lines:
        if isinstance(book, tuple):  # a book since deleted: only the line's copy of it is left
            title, isbn13 = book
            OrderLineFactory(order=order, book=None, title=title, isbn13=isbn13, quantity=quantity, unit_price=price)
        else:
            OrderLineFactory(order=order, book=book, quantity=quantity, unit_price=price)
    return order


@pytest.fixture
def shop(db):
    fiction = CategoryFactory(name="Fiction")
    nonfiction = CategoryFactory(name="Nonfiction")
    books = Shop(
        dune=BookFactory(title="Dune", category=CategoryFactory(name="Science fiction", parent=fiction), stock=3),
        emma=BookFactory(title="Emma", category=CategoryFactory(name="Classics", parent=fiction), stock=0),
        cookbook=BookFactory(title="Cookbook", category=CategoryFactory(name="Food", parent=nonfiction), stock=10),
        loose=BookFactory(title="Loose", category=None, stock=5),
        quiet=BookFactory(title="Quiet", stock=1),
    )
    ten, five = Decimal("10.00"), Decimal("5.00")
    sold((books.dune, 2, ten), (books.emma, 1, five), paid_at=at(2))
    sold((books.dune, 1, ten), paid_at=at(2, 23, 30), status="shipped")
    sold((books.cookbook, 3, Decimal("7.50")), paid_at=at(4))
    sold((books.dune, 5, ten), paid_at=at(4), status="cancelled")  # not a sale
    sold((books.dune, 1, ten), paid_at=None, status="pending")  # not yet a sale
    sold((books.dune, 1, Decimal("9.00")), paid_at=at(4), currency="EUR")  # another currency
    sold((("Gone Book", "9780000000001"), 1, Decimal("3.00")), (books.loose, 1, Decimal("2.00")), paid_at=at(10))
    sold((books.dune, 1, ten), paid_at=at(1, 23, 59))  # the day before the period
    sold((books.dune, 1, ten), paid_at=at(12, 0, 0))  # the day after
    return books


@pytest.fixture
def searches(db):
    rows = [
        (date(2026, 11, 2), "dune", 5, 0),
        (date(2026, 11, 5), "dune", 3, 0),
        (date(2026, 10, 25), "dune", 2, 0),
        (date(2026, 11, 3), "emma", 8, 0),
        (date(2026, 11, 4), "dnue", 4, 4),
        (date(2026, 11, 1), "dnue", 1, 1),
        (date(2026, 10, 20), "old", 9, 0),
        (date(2026, 11, 12), "later", 9, 9),
    ]
    SearchDay.objects.bulk_create(
        SearchDay(day=day, query=query, searches=count, zero_results=zero, results_total=count * 10 if not zero else 0)
        for day, query, count, zero in rows
    )


@pytest.fixture
def site_days(db):
    SiteDay.objects.bulk_create(
        [
            SiteDay(day=date(2026, 11, 2), views=100, adds=20, checkouts=5, orders=4),
            SiteDay(day=date(2026, 11, 3), views=50, adds=10, checkouts=5, orders=2),
            SiteDay(day=date(2026, 11, 20), views=999, adds=99, checkouts=9, orders=9),
        ]
    )
