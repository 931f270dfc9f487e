"""Reads that build the cart and order pages.

The cart's lines come from the store (one Redis round trip); titles, prices, stock and
authors always come fresh from Postgres in one query whatever the number of lines, so a
price change or a sell-out shows on the next view of the cart.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.paginator import Page, Paginator
from django.db.models import F, Sum

from cart.models import Order
from cart.store import CartLimits, CartRef, CartStoreUnavailable, get_store
from catalog.models import Book


@dataclass(frozen=True)
class CartItem:
    """One cart line with today's catalog data."""

    book: Book
    quantity: int
    price_seen: Decimal | None

    @property
    def unit_price(self) -> Decimal:
        return self.book.price

    @property
    def line_total(self) -> Decimal:
        return self.book.price * self.quantity

    @property
    def price_went_up(self) -> bool:
        return self.price_seen is not None and self.book.price > self.price_seen

    @property
    def price_went_down(self) -> bool:
        return self.price_seen is not None and self.book.price < self.price_seen

    @property
    def is_out_of_stock(self) -> bool:
        return self.book.stock_on_hand <= 0

    @property
    def is_short(self) -> bool:
        """Some, but fewer than the line's quantity, are in stock."""
        return 0 < self.book.stock_on_hand < self.quantity

    @property
    def max_quantity(self) -> int:
        """The most the quantity field should offer (the rule the cart services apply)."""
        return CartLimits.from_settings().line_quantity_limit(stock=self.book.stock_on_hand)


@dataclass(frozen=True)
class CartContents:
    items: list[CartItem]
    # Lines whose book the catalog no longer has; the cart page removes them.
    missing_book_ids: list[int]

    @property
    def is_empty(self) -> bool:
        return not self.items

    # The summaries below are read several times per page; each walks the lines once.
    @cached_property
    def count(self) -> int:
        return sum(item.quantity for item in self.items)

    @cached_property
    def currencies(self) -> list[str]:
        return sorted({item.book.currency for item in self.items})

    @property
    def currency(self) -> str:
        """The cart's currency (the first one if it mixes several, which checkout refuses)."""
        return self.currencies[0] if self.items else "USD"

    @cached_property
    def total(self) -> Decimal:
        return sum((item.line_total for item in self.items), Decimal("0"))

    @cached_property
    def has_price_changes(self) -> bool:
        return any(item.price_went_up or item.price_went_down for item in self.items)

    @cached_property
    def has_stock_problems(self) -> bool:
        return any(item.is_out_of_stock or item.is_short for item in self.items)

    @cached_property
    def can_check_out(self) -> bool:
        return bool(self.items) and not self.has_stock_problems and len(self.currencies) == 1


EMPTY_CART = CartContents(items=[], missing_book_ids=[])


def cart_contents(*, cart: CartRef | None, refresh: bool = True) -> CartContents:
    """The cart's lines with fresh book data, ordered by title. ``cart=None`` is an empty cart.

    ``refresh`` restarts the idle clock: looking at the cart counts as using it. Raises
    ``CartStoreUnavailable`` when the store cannot be reached.
    """
    if cart is None:
        return EMPTY_CART
    lines = get_store().lines(cart, refresh=refresh)
    if not lines:
        return EMPTY_CART
    books = _books_with_credits(lines)
    items = [
        CartItem(book=books[book_id], quantity=line.quantity, price_seen=line.price_seen)
        for book_id, line in lines.items()
        if book_id in books
    ]
    items.sort(key=lambda item: (item.book.title.lower(), item.book.pk))
    return CartContents(items=items, missing_book_ids=sorted(set(lines) - set(books)))


# Columns no cart view shows (the lines, checkout's review, the partner API's cart):
# left in the database, the description above all (kilobytes per book in a real
# catalog). Reading one of them would cost a query per line, which the cart page's
# query-count tests catch.
_UNSHOWN_BOOK_FIELDS = (
    "subtitle",
    "description",
    "publication_date",
    "publication_sort_date",
    "language",
    "page_count",
    "publisher",
    "category",
    "review_count",
    "external_average_rating",
    "external_ratings_count",
    "popularity",
    "created_at",
    "updated_at",
)


def _books_with_credits(book_ids: Collection[int]) -> dict[int, Book]:
    """The books of ``book_ids`` with their stock and authors in credit order: one query.

    A LEFT JOIN to the credits gives one row per (book, author), so a book with two
    authors comes twice and a book without any once; the rows are folded here. Cheaper
    than ``for_listing()``'s prefetch (a second query, and a BookAuthor and an Author
    object per credit) and it works on SQLite too, unlike an array aggregate.
    """
    rows = (
        Book.objects.select_related("inventory")
        .defer(*_UNSHOWN_BOOK_FIELDS)
        .filter(pk__in=book_ids)
        .annotate(credit_author_id=F("book_authors__author_id"), credit_author_name=F("book_authors__author__name"))
        .order_by("pk", "book_authors__position", "book_authors__id")
    )
    books: dict[int, Book] = {}
    credits: dict[int, list[tuple[int, str]]] = {}
    for row in rows:
        books.setdefault(row.pk, row)
        book_credits = credits.setdefault(row.pk, [])
        if row.credit_author_id is not None:
            book_credits.append((row.credit_author_id, row.credit_author_name))
    for book_id, book in books.items():
        book.set_author_credits(credits[book_id])
    return books


def cart_count(*, cart: CartRef | None) -> int | None:
    """Items in the cart for the header: one Redis call and no SQL. ``None`` when the store is down."""
    if cart is None:
        return 0
    try:
        return get_store().count(cart)
    except CartStoreUnavailable:
        return None


def customer_orders_page(*, user: User, number: int) -> Page:
    """A page of the customer's order history, newest first, with each order's item count.

    Orders whose card was declined are left out: they were never orders to the customer.
    Two queries: the count and the page.
    """
    orders = (
        Order.objects.filter(user_id=user.pk, payment_declined=False)
        .annotate(item_count=Sum("lines__quantity"))
        .order_by("-created_at", "-id")
    )
    return Paginator(orders, settings.CART_ORDERS_PAGE_SIZE).page(number)


def customer_order(*, user: AbstractBaseUser | AnonymousUser, reference: str) -> Order | None:
    """The order ``reference`` with its lines only if ``user`` placed it: the ownership check of every order page."""
    if not user.is_authenticated:
        return None
    return Order.objects.prefetch_related("lines").filter(reference=reference, user_id=user.pk).first()


def customer_order_reference(*, user: AbstractBaseUser | AnonymousUser, order_id: int) -> str | None:
    """The reference of order ``order_id`` only if ``user`` placed it (for the order pages' old addresses)."""
    if not user.is_authenticated or not 0 < order_id < 2**63:
        return None
    return Order.objects.filter(pk=order_id, user_id=user.pk).values_list("reference", flat=True).first()


def latest_shipping_address(*, user: User) -> dict[str, str]:
    """The address of the customer's most recent order, to pre-fill checkout (``{}`` if none)."""
    fields = ["name", "line1", "line2", "city", "region", "postal_code", "country"]
    row = (
        Order.objects.filter(user_id=user.pk)
        .order_by("-created_at", "-id")
        .values_list(*(f"shipping_{field}" for field in fields))
        .first()
    )
    return dict(zip(fields, row, strict=True)) if row else {}
