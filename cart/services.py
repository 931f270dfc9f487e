"""Writes of the cart app: cart operations (Redis, ``cart.store``) and orders (Postgres).

Every function is keyword-only and validates its own input, so pages, the JSON endpoint,
the admin and tests all get the same answers. A refusal is one ``CartError`` whose
``code`` names it and whose ``message`` (from ``ERROR_MESSAGES``) is safe to show to the
customer; when a call raises, nothing changed.

Stock is only ever changed here by conditional updates on locked inventory rows (taken in
primary-key order, so two orders for the same books cannot deadlock) and announced through
``catalog.services.announce_books_changed`` once the transaction commits.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Case, F, PositiveIntegerField, When
from django.utils import timezone

from cart.models import Order, OrderLine
from cart.payments import CardDetails, PaymentProvider, PaymentProviderError, PaymentResult, get_provider
from cart.store import (
    LINE_LIMIT,
    LINE_MAX_QUANTITY,
    NOT_ENOUGH_STOCK,
    NOT_IN_CART,
    CartLimits,
    CartRef,
    CartStore,
    CartStoreUnavailable,
    MergeOutcome,
    StoredLine,
    WriteOutcome,
    get_store,
)
from catalog.models import Book, Inventory
from catalog.services import announce_books_changed

logger = logging.getLogger(__name__)

ERROR_MESSAGES = {
    "unknown_book": "That book is not in our catalog.",
    "invalid_quantity": "Choose a quantity from 1 to {max_quantity}.",
    "line_limit": "Your cart is full: it holds at most {max_lines} different books. Remove one to add another.",
    "line_max_quantity": "You can order at most {max_quantity} copies of a book.",
    "out_of_stock": "Sorry, “{title}” is out of stock.",
    "not_enough_stock": "Sorry, only {stock} of “{title}” are in stock.",
    "not_in_cart": "That book is not in your cart.",
    "empty_cart": "Your cart is empty.",
    "insufficient_stock": "We could not place your order: {details} Please check your cart.",
    "book_gone": "“{title}” is no longer sold. Please remove it from your cart.",
    "books_gone": "Some books in your cart are no longer sold. Please check your cart.",
    "mixed_currencies": "Your cart mixes prices in {currencies}; please order books priced in one currency at a time.",
    "price_changed": "Prices changed since you reviewed your order: the total is now {total}. Please check it and "
    "place your order again.",
    "payment_declined": "Payment failed: {reason} You have not been charged; your cart is unchanged.",
    "unavailable": "Your cart is temporarily unavailable. Please try again in a moment.",
}


class CartError(Exception):
    """A cart or checkout request was refused and nothing changed. ``message`` is for the customer."""

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.message = ERROR_MESSAGES[code].format(**params)
        super().__init__(self.message)


@dataclass(frozen=True)
class CartChange:
    """The result of a cart write: the line's quantity now and the cart's item count."""

    book_id: int
    title: str
    quantity: int
    count: int


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str = ""
    region: str = ""


# --- Input ---------------------------------------------------------------------------------

# Longer numbers are not ids or quantities of ours; refusing them early keeps 10**20 away
# from Postgres' bigint and Lua's doubles.
_MAX_ID_DIGITS = 18
_MAX_QUANTITY_DIGITS = 6


def _whole_number(raw: object, max_digits: int) -> int | None:
    """``raw`` as a non-negative int when it is one (``"7"``, ``7``), else ``None``.

    ``"7.0"``, ``True``, ``"-1"``, Arabic-Indic digits and numbers longer than ``max_digits`` are not.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 0 <= raw < 10**max_digits else None
    if isinstance(raw, str):
        text = raw.strip()
        if text.isascii() and text.isdigit() and len(text) <= max_digits:
            return int(text)
    return None


def _parse_book_id(raw: object) -> int:
    value = _whole_number(raw, _MAX_ID_DIGITS)
    if not value:
        raise CartError("unknown_book")
    return value


def _parse_quantity(raw: object, limits: CartLimits) -> int:
    value = _whole_number(raw, _MAX_QUANTITY_DIGITS)
    if value is None or not 1 <= value <= limits.max_quantity:
        raise CartError("invalid_quantity", max_quantity=limits.max_quantity)
    return value


@dataclass(frozen=True)
class _BookForCart:
    title: str
    price: Decimal
    stock: int


def _book_for_cart(book_id: int) -> _BookForCart:
    """What a cart write needs to know about a book, fresh from Postgres (one query)."""
    row = Book.objects.filter(pk=book_id).values_list("title", "price", "inventory__stock_on_hand").first()
    if row is None:
        raise CartError("unknown_book")
    title, price, stock = row
    return _BookForCart(title=title, price=price, stock=stock or 0)


@contextmanager
def _cart_store() -> Iterator[CartStore]:
    """The cart store; its outages become ``CartError("unavailable")`` (a 503, never a 500)."""
    try:
        yield get_store()
    except CartStoreUnavailable as error:
        logger.warning("cart store unavailable: %s", error)
        raise CartError("unavailable") from error


def _raise_for_refusal(outcome: WriteOutcome, book: _BookForCart, limits: CartLimits) -> None:
    if outcome.code == LINE_LIMIT:
        raise CartError("line_limit", max_lines=limits.max_lines)
    if outcome.code == LINE_MAX_QUANTITY:
        raise CartError("line_max_quantity", max_quantity=limits.max_quantity)
    if outcome.code == NOT_ENOUGH_STOCK:
        raise CartError("not_enough_stock", stock=book.stock, title=book.title)
    if outcome.code == NOT_IN_CART:
        raise CartError("not_in_cart")


# --- Cart ------------------------------------------------------------------------------------


def cart_add_item(*, cart: CartRef, book_id: object, quantity: object = 1) -> CartChange:
    """Add ``quantity`` copies of a book to the cart.

    Refused (``CartError``, cart unchanged) for an unknown book, a quantity that is not a
    whole number from 1 to ``CART_MAX_QUANTITY_PER_LINE``, a line that would pass that
    maximum or the stock on hand, or a new line in a cart that has ``CART_MAX_LINES``.
    The check and the write are one Lua script, so concurrent adds never lose one another.
    """
    limits = CartLimits.from_settings()
    book_pk, amount = _parse_book_id(book_id), _parse_quantity(quantity, limits)
    book = _book_for_cart(book_pk)
    if book.stock <= 0:
        raise CartError("out_of_stock", title=book.title)
    with _cart_store() as store:
        outcome = store.add(cart, book_id=book_pk, quantity=amount, price=book.price, stock=book.stock, limits=limits)
    _raise_for_refusal(outcome, book, limits)
    return CartChange(book_id=book_pk, title=book.title, quantity=outcome.quantity, count=outcome.count)


def cart_set_quantity(*, cart: CartRef, book_id: object, quantity: object) -> CartChange:
    """Change the quantity of a line already in the cart; the same checks as ``cart_add_item``.

    The line's "price seen" becomes today's price: the cart page showed it next to the field.
    """
    limits = CartLimits.from_settings()
    book_pk, amount = _parse_book_id(book_id), _parse_quantity(quantity, limits)
    book = _book_for_cart(book_pk)
    if book.stock <= 0:
        raise CartError("out_of_stock", title=book.title)
    with _cart_store() as store:
        outcome = store.set(cart, book_id=book_pk, quantity=amount, price=book.price, stock=book.stock, limits=limits)
    _raise_for_refusal(outcome, book, limits)
    return CartChange(book_id=book_pk, title=book.title, quantity=outcome.quantity, count=outcome.count)


def cart_remove_item(*, cart: CartRef, book_id: object) -> CartChange:
    """Remove a line. Removing a line that is not there succeeds, so a retried remove is harmless.

    Touches no database: a book the catalog has dropped can still be removed.
    """
    book_pk = _parse_book_id(book_id)
    with _cart_store() as store:
        outcome = store.remove(cart, book_ids=[book_pk])
    return CartChange(book_id=book_pk, title="", quantity=0, count=outcome.count)


def cart_remove_items(*, cart: CartRef, book_ids: list[int]) -> None:
    """Remove several lines at once (the cart page drops books the catalog no longer sells)."""
    if book_ids:
        with _cart_store() as store:
            store.remove(cart, book_ids=sorted(book_ids))


def cart_clear(*, cart: CartRef) -> None:
    """Empty the cart."""
    with _cart_store() as store:
        store.clear(cart)


def cart_merge(*, source: CartRef, target: CartRef) -> MergeOutcome:
    """Move an anonymous cart into a customer's cart when they log in (quantities add).

    Each merged line is capped by today's stock and the per-line maximum; lines past the
    line limit are dropped (``reduced_lines`` says how many lines were cut). The merge and
    the deletion of ``source`` are one Lua script, so an add racing the log-in is either
    merged or lands in the customer's cart, never lost. A book added to ``source`` after
    the stock was read is capped by the per-line maximum only; checkout enforces stock.
    """
    with _cart_store() as store:
        lines = store.lines(source, refresh=False)
        if not lines:
            return MergeOutcome(merged_lines=0, reduced_lines=0)
        stock = dict(Inventory.objects.filter(book_id__in=lines).values_list("book_id", "stock_on_hand"))
        caps = {book_id: stock.get(book_id, 0) for book_id in lines}
        return store.merge(source, target, caps=caps, limits=CartLimits.from_settings())


# --- Orders ----------------------------------------------------------------------------------


def order_place(
    *,
    user: User,
    cart: CartRef,
    address: ShippingAddress,
    card: CardDetails,
    idempotency_key: uuid.UUID,
    expected_total: Decimal | None = None,
    provider: PaymentProvider | None = None,
) -> Order:
    """Turn the customer's cart into a paid order, or refuse with ``CartError`` and change nothing.

    Two steps, and why the charge sits between them:

    1. ``_order_reserve`` — one short Postgres transaction: insert the order (its unique
       ``(user, idempotency_key)`` makes a duplicate submit wait here and then find the first
       order), lock the stock rows in primary-key order, refuse if any line is short, take the
       stock with one conditional ``UPDATE``, and write the lines at today's prices. Inventory
       locks are held for milliseconds, never across a network call.
    2. ``_order_take_payment`` — a second transaction that locks only this order's row, charges
       the card and marks the order paid; on a decline it cancels the order and puts the stock
       back in the same transaction. The order-row lock makes a retried submit wait for the
       first charge and then return its outcome instead of charging again, and the provider
       also receives a per-order idempotency key.

    The cart loses the ordered quantities only after the paid status commits, and a declined
    card leaves it untouched. ``expected_total`` (the total the review page showed) protects
    the customer from paying a price that changed since they looked.
    """
    order = _order_reserve(
        user=user, cart=cart, address=address, idempotency_key=idempotency_key, expected_total=expected_total
    )
    order = _order_take_payment(order_id=order.pk, card=card, provider=provider or get_provider(), cart=cart)
    if order.payment_declined:
        raise CartError("payment_declined", reason=order.payment_message)
    return order


def _order_reserve(
    *,
    user: User,
    cart: CartRef,
    address: ShippingAddress,
    idempotency_key: uuid.UUID,
    expected_total: Decimal | None,
) -> Order:
    """Step 1 of ``order_place``: the order, its lines and the stock, in one transaction."""
    existing = Order.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    with _cart_store() as store:
        lines = store.lines(cart, refresh=False)
    if not lines:
        raise CartError("empty_cart")
    books = {book.pk: book for book in Book.objects.filter(pk__in=lines).only("title", "isbn13", "price", "currency")}
    _check_books_still_sold(lines, books)
    currency, total = _order_total(lines, books)
    if expected_total is not None and total != expected_total:
        raise CartError("price_changed", total=f"{total:.2f} {currency}")
    try:
        with transaction.atomic():
            order = Order.objects.create(
                user=user,
                idempotency_key=idempotency_key,
                currency=currency,
                total=total,
                shipping_name=address.name,
                shipping_line1=address.line1,
                shipping_line2=address.line2,
                shipping_city=address.city,
                shipping_region=address.region,
                shipping_postal_code=address.postal_code,
                shipping_country=address.country,
            )
            _inventory_take(lines, books)
            OrderLine.objects.bulk_create(
                OrderLine(
                    order=order,
                    book_id=book_id,
                    title=books[book_id].title,
                    isbn13=books[book_id].isbn13,
                    unit_price=books[book_id].price,
                    quantity=lines[book_id].quantity,
                )
                for book_id in sorted(lines)
            )
    except IntegrityError:
        # A concurrent submit with the same key committed first: answer with its order.
        existing = Order.objects.filter(user=user, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    return order


def _check_books_still_sold(lines: Mapping[int, StoredLine], books: Mapping[int, Book]) -> None:
    gone = [book_id for book_id in lines if book_id not in books]
    if gone:
        raise CartError("books_gone")


def _order_total(lines: Mapping[int, StoredLine], books: Mapping[int, Book]) -> tuple[str, Decimal]:
    currencies = sorted({books[book_id].currency for book_id in lines})
    if len(currencies) > 1:
        raise CartError("mixed_currencies", currencies=" and ".join(currencies))
    total = sum((books[book_id].price * line.quantity for book_id, line in lines.items()), Decimal("0"))
    return currencies[0], total


def _inventory_take(lines: Mapping[int, StoredLine], books: Mapping[int, Book]) -> None:
    """Take the ordered quantities from stock, or raise ``insufficient_stock`` (rolling back).

    The rows are locked in primary-key order first, so the check and the ``UPDATE`` see the
    same numbers and two orders sharing books lock them in the same order (no deadlock).
    """
    ids = sorted(lines)
    stock = dict(
        Inventory.objects.select_for_update().filter(book_id__in=ids).order_by("pk").values_list("pk", "stock_on_hand")
    )
    problems = []
    for book_id in ids:
        on_hand, title = stock.get(book_id, 0), books[book_id].title
        if on_hand <= 0:
            problems.append(f"“{title}” is out of stock.")
        elif on_hand < lines[book_id].quantity:
            problems.append(f"only {on_hand} of “{title}” are left.")
    if problems:
        raise CartError("insufficient_stock", details=" ".join(problems))
    Inventory.objects.filter(book_id__in=ids).update(
        stock_on_hand=Case(
            *(When(book_id=book_id, then=F("stock_on_hand") - lines[book_id].quantity) for book_id in ids),
            default=F("stock_on_hand"),
            output_field=PositiveIntegerField(),
        )
    )
    announce_books_changed(ids)


def _order_take_payment(*, order_id: int, card: CardDetails, provider: PaymentProvider, cart: CartRef) -> Order:
    """Step 2 of ``order_place``: charge the card under the order's row lock; paid, or cancelled and restocked."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status != Order.Status.PLACED:
            return order  # settled by an earlier attempt with the same idempotency key
        result = _charge(order=order, card=card, provider=provider)
        now = timezone.now()
        order.payment_provider, order.payment_reference, order.card_last4 = provider.name, result.reference, card.last4
        if result.is_approved:
            order.status, order.paid_at = Order.Status.PAID, now
            order.save(update_fields=["status", "paid_at", "payment_provider", "payment_reference", "card_last4"])
            ordered = dict(OrderLine.objects.filter(order=order, book__isnull=False).values_list("book_id", "quantity"))
            transaction.on_commit(partial(_cart_subtract_after_order, cart=cart, quantities=ordered))
        else:
            order.status, order.cancelled_at = Order.Status.CANCELLED, now
            order.payment_declined, order.payment_message = True, result.message[:200]
            order.save(
                update_fields=[
                    "status",
                    "cancelled_at",
                    "payment_declined",
                    "payment_message",
                    "payment_provider",
                    "payment_reference",
                    "card_last4",
                ]
            )
            _inventory_restock(order_id=order.pk)
    return order


def _charge(*, order: Order, card: CardDetails, provider: PaymentProvider) -> PaymentResult:
    """Ask the provider for the money; a provider that cannot be reached counts as a decline."""
    if order.total == 0:
        return PaymentResult(is_approved=True, reference="", card_last4=card.last4)
    try:
        return provider.charge(
            amount=order.total,
            currency=order.currency,
            card=card,
            idempotency_key=f"cloudshelf-order-{order.pk}",
            description=f"CloudShelf order #{order.pk}",
        )
    except PaymentProviderError as error:
        logger.warning("payment provider %s failed for order %s: %s", provider.name, order.pk, error)
        return PaymentResult(
            is_approved=False, reference="", card_last4=card.last4, message="The payment service did not answer."
        )


def _cart_subtract_after_order(*, cart: CartRef, quantities: Mapping[int, int]) -> None:
    """Runs after the paid order commits. The order stands even if Redis is down right now."""
    try:
        get_store().subtract(cart, quantities=quantities)
    except CartStoreUnavailable:
        logger.warning("order placed but the cart %s could not be emptied", cart.key)


def _inventory_restock(*, order_id: int) -> None:
    """Put an order's quantities back on the shelf (``F()`` increments on rows locked in key order)."""
    quantities = dict(
        OrderLine.objects.filter(order_id=order_id, book__isnull=False).values_list("book_id", "quantity")
    )
    if not quantities:
        return
    ids = sorted(quantities)
    list(Inventory.objects.select_for_update().filter(book_id__in=ids).order_by("pk").values_list("pk", flat=True))
    Inventory.objects.filter(book_id__in=ids).update(
        stock_on_hand=Case(
            *(When(book_id=book_id, then=F("stock_on_hand") + quantities[book_id]) for book_id in ids),
            default=F("stock_on_hand"),
            output_field=PositiveIntegerField(),
        )
    )
    announce_books_changed(ids)


def order_cancel(*, order: Order) -> bool:
    """Cancel a placed or paid order and put its stock back. ``False`` when it cannot be cancelled.

    The status change is a conditional ``UPDATE … WHERE status IN (placed, paid)``: of two
    cancels racing (two staff members, a double-clicked admin action) exactly one matches, so
    the stock goes back exactly once. Shipped orders are not cancelled (the books have left).
    Refunds of paid orders are made in the payment provider's dashboard.
    """
    with transaction.atomic():
        now = timezone.now()
        cancellable = [Order.Status.PLACED, Order.Status.PAID]
        updated = Order.objects.filter(pk=order.pk, status__in=cancellable).update(
            status=Order.Status.CANCELLED, cancelled_at=now
        )
        if not updated:
            return False
        _inventory_restock(order_id=order.pk)
    order.status, order.cancelled_at = Order.Status.CANCELLED, now
    return True


def order_mark_shipped(*, order: Order) -> bool:
    """Mark a paid order shipped. ``False`` (nothing changes) for any other status."""
    now = timezone.now()
    updated = Order.objects.filter(pk=order.pk, status=Order.Status.PAID).update(
        status=Order.Status.SHIPPED, shipped_at=now
    )
    if updated:
        order.status, order.shipped_at = Order.Status.SHIPPED, now
    return bool(updated)


def orders_cancel_abandoned(*, older_than: timedelta) -> int:
    """Cancel orders stuck in "placed" (their payment step never finished) and restock them.

    An order stays "placed" only if the process died between reserving the stock and taking
    the payment. Run from cron or Celery beat; safe to run twice. Returns how many it cancelled.
    """
    cutoff = timezone.now() - older_than
    stuck = Order.objects.filter(status=Order.Status.PLACED, created_at__lt=cutoff).order_by("pk")
    return sum(order_cancel(order=order) for order in stuck)
