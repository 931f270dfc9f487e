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
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Case, F, PositiveIntegerField, Q, When
from django.utils import timezone

from cart import signals

# Re-exported: callers build the address they pass to ``order_place`` from this module.
from cart.addresses import ShippingAddress as ShippingAddress
from cart.models import Order, OrderLine, order_reference_new
from cart.payments import (
    CardDetails,
    PaymentCharger,
    PaymentProvider,
    PaymentProviderError,
    PaymentResult,
    PaymentsUnavailable,
    get_provider,
    provider_is_available,
)
from cart.store import (
    DAY_SECONDS,
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
from catalog.services import announce_books_changed, reviews_mark_verified
from cloudshelf.database import release_connection

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
    "payments_unavailable": "We cannot take card payments right now. You have not been charged and your cart is "
    "kept; please try again in a few minutes.",
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


def _parse_quantity(raw: object, limits: CartLimits, stock: int) -> int:
    """``raw`` as a quantity from 1 to the per-line maximum; a quantity above the stock but
    within the maximum is the stock's fault (``not_enough_stock``), refused by the store."""
    value = _whole_number(raw, _MAX_QUANTITY_DIGITS)
    if value is None or not 1 <= value <= limits.max_quantity:
        # The limit the customer can actually reach, as the quantity field's ``max`` says.
        raise CartError("invalid_quantity", max_quantity=limits.line_quantity_limit(stock=stock))
    return value


@dataclass(frozen=True)
class _BookForCart:
    title: str
    price: Decimal
    currency: str
    stock: int


def _book_for_cart(book_id: int) -> _BookForCart:
    """What a cart write needs to know about a book, fresh from Postgres (one query)."""
    row = Book.objects.filter(pk=book_id).values_list("title", "price", "currency", "inventory__stock_on_hand").first()
    if row is None:
        raise CartError("unknown_book")
    title, price, currency, stock = row
    return _BookForCart(title=title, price=price, currency=currency, stock=stock or 0)


def _announce(signal: Any, **event: Any) -> None:
    """Send one of ``cart.signals`` to its listeners; a listener's failure is logged, never the cart's."""
    for receiver, outcome in signal.send_robust(sender=Order, **event):
        if isinstance(outcome, Exception):
            logger.error("cart: a listener %r failed", receiver, exc_info=outcome)


def _line_events(lines: Mapping[int, int], prices: Mapping[int, Decimal]) -> tuple[signals.OrderLineEvent, ...]:
    return tuple(
        signals.OrderLineEvent(book_id=book_id, quantity=quantity, unit_price=prices[book_id])
        for book_id, quantity in sorted(lines.items())
    )


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
    book_pk = _parse_book_id(book_id)
    book = _book_for_cart(book_pk)
    if book.stock <= 0:
        raise CartError("out_of_stock", title=book.title)
    amount = _parse_quantity(quantity, limits, book.stock)
    with _cart_store() as store:
        outcome = store.add(cart, book_id=book_pk, quantity=amount, price=book.price, stock=book.stock, limits=limits)
    _raise_for_refusal(outcome, book, limits)
    transaction.on_commit(
        partial(
            _announce,
            signals.item_added,
            book_id=book_pk,
            quantity=amount,
            unit_price=book.price,
            currency=book.currency,
        )
    )
    return CartChange(book_id=book_pk, title=book.title, quantity=outcome.quantity, count=outcome.count)


def cart_set_quantity(*, cart: CartRef, book_id: object, quantity: object) -> CartChange:
    """Change the quantity of a line already in the cart; the same checks as ``cart_add_item``.

    The line's "price seen" becomes today's price: the cart page showed it next to the field.
    """
    limits = CartLimits.from_settings()
    book_pk = _parse_book_id(book_id)
    book = _book_for_cart(book_pk)
    if book.stock <= 0:
        raise CartError("out_of_stock", title=book.title)
    amount = _parse_quantity(quantity, limits, book.stock)
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
    line limit are dropped (``reduced_lines`` says how many lines were cut). On Redis the
    merge is three single-slot steps that are each safe to repeat (``cart.store._LUA_CLAIM``),
    so it also works on a Redis Cluster: an add racing the log-in is either merged or lands
    in a cart, never lost, and no line is counted twice. A book added to ``source`` after
    the stock was read is capped by the per-line maximum only; checkout enforces stock.
    """
    with _cart_store() as store:
        lines = store.lines(source, refresh=False)
        stock = (
            dict(Inventory.objects.filter(book_id__in=lines).values_list("book_id", "stock_on_hand")) if lines else {}
        )
        caps = {book_id: stock.get(book_id, 0) for book_id in lines}
        # Called even when the cart looks empty: a merge of it that stopped halfway (its lines
        # claimed by the Redis store) resumes here, e.g. when the visitor retries the log-in.
        return store.merge(source, target, caps=caps, limits=CartLimits.from_settings())


# --- Orders ----------------------------------------------------------------------------------

# What the customer reads when a charge had no answer: the truth, and that retrying is safe.
PAYMENT_PENDING_MESSAGE = (
    "We are confirming your payment for order {reference} with the card company; this can take a few minutes. "
    "You will not be charged twice, even if you place the order again: its page shows the result."
)
# Why an order the provider never charged (it has no charge under the order's key) was cancelled.
_NOT_CHARGED_MESSAGE = "The payment did not go through."
# Why an order was cancelled when the payment breaker opened between its reservation and its charge.
_PAYMENTS_UNAVAILABLE_MESSAGE = "Card payments were unavailable."
# Draws of a fresh order reference before giving up (two clashes in a row would be a broken generator).
_REFERENCE_DRAWS = 3
# At most this many orders per run of a settling job, so one run stays bounded in time.
_SETTLE_BATCH = 100

ReconcileOutcome = Literal["paid", "cancelled", "unknown", "flagged", "busy"]


def order_place(
    *,
    user: User,
    cart: CartRef,
    address: ShippingAddress,
    card: CardDetails,
    idempotency_key: uuid.UUID,
    expected_total: Decimal | None = None,
    provider: PaymentCharger | None = None,
) -> Order:
    """Turn the customer's cart into an order and take the payment; or refuse with ``CartError``.

    Returns the order **paid**, or **pending** ("payment being confirmed") when the provider
    gave no answer — a timeout or an error may have charged the card, so only an explicit
    decline cancels (``CartError("payment_declined")``, stock back, cart unchanged). A retry
    with the same ``idempotency_key`` finds the same order and tries again with the same
    provider key (``cloudshelf-order-<id>``), which a provider charges at most once; whatever
    no retry settles, ``orders_reconcile_pending`` settles by asking the provider.

    No transaction is open while the provider is asked:

    1. ``_order_reserve`` — one short transaction: insert the order (its unique
       ``(user, idempotency_key)`` makes a duplicate submit wait here and then find the first
       order), lock the stock rows in primary-key order, take the stock, write the lines.
    2. ``_order_claim_payment`` — one conditional ``UPDATE`` (autocommit): placed, or pending
       with no try in flight, becomes pending with ``payment_attempts + 1``. Of two concurrent
       retries exactly one matches; the other returns the order as it is (pending) and charges
       nothing. A claim rather than a row lock or an advisory lock, because a lock would have to
       be held across the network call (the very thing not to do), and a claim survives the
       process: it expires at ``payment_claimed_until`` (the provider's timeouts plus a margin),
       after which a retry or the reconciler may take the order over if this process died.
    3. the charge, outside any transaction.
    4. ``_order_record_payment`` — a second transaction, conditional on this claim: paid (the
       ordered quantities leave the cart after the commit), or declined (cancelled and
       restocked). No answer only releases the claim: the order stays pending.

    ``expected_total`` (the total the review page showed) protects the customer from paying
    a price that changed since they looked. Partner orders call this inside their own
    transaction with an invoice provider that makes no network call.

    While the provider's circuit breaker refuses calls (``cart.payments``) nothing is reserved:
    ``CartError("payments_unavailable")``, no order, cart and stock unchanged; a resubmit of an
    order already tried answers with that order as it stands (pending: it may have been charged,
    reconciliation settles it). If the breaker opens between the reservation and the charge, a
    first try (nothing can have been charged) is cancelled and restocked with the same error; a
    later try stays pending for reconciliation.
    """
    provider = provider or get_provider()
    if provider_is_available(provider):
        order = _order_reserve(
            user=user, cart=cart, address=address, idempotency_key=idempotency_key, expected_total=expected_total
        )
        order = _order_pay(order=order, card=card, provider=provider, cart=cart)
    else:
        order = _order_tried_before(user=user, idempotency_key=idempotency_key)
    if order.status == Order.Status.CANCELLED and order.payment_declined:
        raise CartError("payment_declined", reason=order.payment_message)
    return order


def _order_tried_before(*, user: User, idempotency_key: uuid.UUID) -> Order:
    """While payments are unavailable: the order a resubmit of ``idempotency_key`` already tried
    to pay, as it stands; else ``CartError("payments_unavailable")`` (nothing was tried, so the
    customer has not been charged: a placed order is left to ``orders_cancel_abandoned``)."""
    tried = Order.objects.filter(user=user, idempotency_key=idempotency_key).exclude(status=Order.Status.PLACED).first()
    if tried is None:
        raise CartError("payments_unavailable")
    return tried


def _order_reserve(
    *,
    user: User,
    cart: CartRef,
    address: ShippingAddress,
    idempotency_key: uuid.UUID,
    expected_total: Decimal | None,
) -> Order:
    """Step 1 of ``order_place``: the order, its lines and the stock, in one transaction.

    The order's reference is drawn here; if another order already holds it (the unique index
    refuses the insert, which rolls back) a new one is drawn and the transaction runs again.
    """
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
    for attempt in range(1, _REFERENCE_DRAWS + 1):
        reference = order_reference_new()
        try:
            return _order_insert(
                user=user,
                cart=cart,
                address=address,
                idempotency_key=idempotency_key,
                reference=reference,
                lines=lines,
                books=books,
                currency=currency,
                total=total,
            )
        except IntegrityError:
            # A concurrent submit with the same key committed first: answer with its order.
            existing = Order.objects.filter(user=user, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
            # Or another order holds the reference drawn (rare: see order_reference_new): draw again.
            if attempt == _REFERENCE_DRAWS or not Order.objects.filter(reference=reference).exists():
                raise
    raise AssertionError("unreachable: the last draw returns or raises")


def _order_insert(
    *,
    user: User,
    cart: CartRef,
    address: ShippingAddress,
    idempotency_key: uuid.UUID,
    reference: str,
    lines: Mapping[int, StoredLine],
    books: Mapping[int, Book],
    currency: str,
    total: Decimal,
) -> Order:
    """The order, its lines and the stock taken, in one transaction (``IntegrityError`` if a unique key is taken)."""
    with transaction.atomic():
        order = Order.objects.create(
            user=user,
            idempotency_key=idempotency_key,
            reference=reference,
            currency=currency,
            total=total,
            shipping_name=address.name,
            shipping_line1=address.line1,
            shipping_line2=address.line2,
            shipping_city=address.city,
            shipping_region=address.region,
            shipping_postal_code=address.postal_code,
            shipping_country=address.country,
            cart_key=cart.key,
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
        quantities = {book_id: line.quantity for book_id, line in lines.items()}
        prices = {book_id: books[book_id].price for book_id in lines}
        transaction.on_commit(
            partial(
                _announce,
                signals.checkout_started,
                order_id=order.pk,
                currency=currency,
                lines=_line_events(quantities, prices),
            )
        )
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


def _payment_key(order_id: int) -> str:
    """The provider's idempotency key of an order: the same for every try to pay it."""
    return f"cloudshelf-order-{order_id}"


def _claim_seconds() -> float:
    """How long a claimed try may take: the provider's connect and read timeouts, plus a margin."""
    return float(settings.CART_PAYMENT_CONNECT_TIMEOUT + settings.CART_PAYMENT_TIMEOUT + 30)


def _order_pay(*, order: Order, card: CardDetails, provider: PaymentCharger, cart: CartRef) -> Order:
    """Steps 2 to 4 of ``order_place``: claim, charge outside any transaction, record. The order as it ends."""
    attempt = _order_claim_payment(order=order, provider_name=provider.name, card_last4=card.last4)
    if attempt is None:
        return Order.objects.get(pk=order.pk)  # settled already, or another try is at the provider now
    # The charge may take the provider's whole timeout: hold no pooled connection meanwhile.
    release_connection()
    try:
        result = _charge(order=order, card=card, provider=provider)
    except PaymentsUnavailable:
        if attempt == 1:  # no earlier try: the provider never heard of this order, so cancel it
            unsent = PaymentResult(
                is_approved=False, reference="", card_last4=card.last4, message=_PAYMENTS_UNAVAILABLE_MESSAGE
            )
            _order_record_payment(order=order, attempt=attempt, result=unsent, cart=cart)
            raise CartError("payments_unavailable") from None
        # An earlier try may have charged: the order stays pending for reconciliation.
        _order_release_payment(order_id=order.pk, attempt=attempt)
        return Order.objects.get(pk=order.pk)
    except PaymentProviderError as error:
        # Unknown, not declined: the money may have moved. The order stays pending.
        logger.warning("payment provider %s gave no answer for order %s: %s", provider.name, order.pk, error)
        _order_release_payment(order_id=order.pk, attempt=attempt)
        return Order.objects.get(pk=order.pk)
    return _order_record_payment(order=order, attempt=attempt, result=result, cart=cart)


def _order_claim_payment(*, order: Order, provider_name: str = "", card_last4: str = "") -> int | None:
    """Take the right to ask the provider about ``order``; the attempt number, or ``None`` if not ours.

    One conditional ``UPDATE`` on the status and attempt count read in ``order`` (placed, or
    pending with no try in flight): of two racing claims exactly one matches a row. On
    success ``order`` is updated to match.
    """
    now = timezone.now()
    if order.status not in (Order.Status.PLACED, Order.Status.PENDING):
        return None
    changes: dict[str, object] = {
        "status": Order.Status.PENDING,
        "payment_attempts": order.payment_attempts + 1,
        "payment_claimed_until": now + timedelta(seconds=_claim_seconds()),
    }
    if provider_name:
        changes["payment_provider"] = provider_name
    if card_last4:
        changes["card_last4"] = card_last4
    claimed = (
        Order.objects.filter(pk=order.pk, status=order.status, payment_attempts=order.payment_attempts)
        .filter(Q(payment_claimed_until__isnull=True) | Q(payment_claimed_until__lte=now))
        .update(**changes)
    )
    if not claimed:
        return None
    for field, value in changes.items():
        setattr(order, field, value)
    return order.payment_attempts


def _order_release_payment(*, order_id: int, attempt: int, count_check: bool = False) -> bool:
    """The provider gave no answer: the order stays pending, free for the next try from now on.

    With ``count_check`` (a reconciliation lookup) the unanswered check is counted, and past
    ``CART_PAYMENT_RECONCILE_MAX_CHECKS`` the order is flagged for staff. ``True`` if this
    call flagged it.
    """
    mine = Order.objects.filter(pk=order_id, status=Order.Status.PENDING, payment_attempts=attempt)
    if not count_check:
        mine.update(payment_claimed_until=timezone.now())
        return False
    mine.update(payment_claimed_until=timezone.now(), payment_checks=F("payment_checks") + 1)
    return bool(
        mine.filter(payment_checks__gte=settings.CART_PAYMENT_RECONCILE_MAX_CHECKS, needs_attention=False).update(
            needs_attention=True
        )
    )


def _order_record_payment(*, order: Order, attempt: int, result: PaymentResult, cart: CartRef | None) -> Order:
    """Step 4: the provider's answer, written only if this attempt still holds the claim (safe to repeat).

    Approved: paid, and after the commit the ordered quantities leave ``cart`` (by default the
    cart the order came from). Declined: cancelled and restocked in the same transaction.
    Returns ``order`` as it now stands.
    """
    changes: dict[str, Any] = {"payment_reference": result.reference[:100], "payment_claimed_until": None}
    if result.card_last4:
        changes["card_last4"] = result.card_last4[-4:]
    if result.is_approved:
        changes |= {"status": Order.Status.PAID, "paid_at": timezone.now(), "needs_attention": False}
    else:
        changes |= {
            "status": Order.Status.CANCELLED,
            "cancelled_at": timezone.now(),
            "payment_declined": True,
            "payment_message": (result.message or _NOT_CHARGED_MESSAGE)[:200],
            "needs_attention": False,
        }
    with transaction.atomic():
        mine = Order.objects.filter(pk=order.pk, status=Order.Status.PENDING, payment_attempts=attempt)
        if not mine.update(**changes):
            return Order.objects.get(pk=order.pk)  # settled by another try meanwhile: its outcome stands
        if result.is_approved:
            sold = OrderLine.objects.filter(order_id=order.pk, book__isnull=False)
            priced = {
                book_id: (quantity, price)
                for book_id, quantity, price in sold.values_list("book_id", "quantity", "unit_price")
            }
            ordered = {book_id: quantity for book_id, (quantity, _) in priced.items()}
            transaction.on_commit(
                partial(
                    _announce,
                    signals.order_placed,
                    order_id=order.pk,
                    currency=order.currency,
                    lines=_line_events(ordered, {book_id: price for book_id, (_, price) in priced.items()}),
                    paid_at=changes["paid_at"],
                )
            )
            target = cart or _cart_of(order.cart_key)
            if target is not None:
                transaction.on_commit(partial(_cart_subtract_after_order, cart=target, quantities=ordered))
            if order.user_id is not None:
                # A review written before this payment becomes a verified purchase now.
                transaction.on_commit(partial(reviews_mark_verified, user_id=order.user_id, book_ids=list(ordered)))
        else:
            _inventory_restock(order_id=order.pk)
    for field, value in changes.items():
        setattr(order, field, value)
    return order


def _cart_of(cart_key: str) -> CartRef | None:
    """The cart an order came from (orders placed before ``cart_key`` existed have none)."""
    if not cart_key:
        return None
    return CartRef(key=cart_key, ttl_seconds=settings.CART_CUSTOMER_TTL_DAYS * DAY_SECONDS)


def _charge(*, order: Order, card: CardDetails, provider: PaymentCharger) -> PaymentResult:
    """Ask the provider for the money under the order's key; ``PaymentProviderError`` means unknown."""
    if order.total == 0:
        return PaymentResult(is_approved=True, reference="", card_last4=card.last4)
    return provider.charge(
        amount=order.total,
        currency=order.currency,
        card=card,
        idempotency_key=_payment_key(order.pk),
        description=f"CloudShelf order {order.reference}",
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
    """Cancel an order that is still as the caller read it, and put its stock back.

    ``False`` (nothing changes) when it has moved on since ``order`` was read — paid, shipped,
    cancelled — or a payment try is at the provider right now. The status change is a
    conditional ``UPDATE … WHERE status = <the status read>``: an order read as placed is not
    cancelled once it is paid, and of two racing cancels exactly one restocks. Staff may
    cancel a paid order (refunds are made in the provider's dashboard) and a pending one
    (after checking there that it was not charged; see ``order_reconcile``).
    """
    if order.status not in (Order.Status.PLACED, Order.Status.PENDING, Order.Status.PAID):
        return False
    now = timezone.now()
    as_read = Order.objects.filter(pk=order.pk, status=order.status)
    if order.status == Order.Status.PENDING:
        as_read = as_read.filter(payment_attempts=order.payment_attempts).filter(
            Q(payment_claimed_until__isnull=True) | Q(payment_claimed_until__lte=now)
        )
    with transaction.atomic():
        if not as_read.update(status=Order.Status.CANCELLED, cancelled_at=now, payment_claimed_until=None):
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


def order_reconcile(*, order: Order, provider: PaymentProvider | None = None) -> ReconcileOutcome:
    """Settle a placed or pending order by asking the provider what its idempotency key did.

    The order is claimed first, exactly as a charge claims it (conditional on the status and
    attempt count read in ``order``), so a lookup never races a customer's retry: ``"busy"``
    when the order is not as read or a try is in flight. Then, outside any transaction:

    - charged → ``"paid"`` (its lines leave the cart it came from);
    - declined, or no charge under the key → ``"cancelled"`` and restocked;
    - no answer, or the order was charged through another provider → ``"unknown"``: it stays
      pending for the next run; ``"flagged"`` when that makes it reach
      ``CART_PAYMENT_RECONCILE_MAX_CHECKS`` unanswered checks (``needs_attention`` for staff).

    While the provider's circuit breaker refuses calls (open, or another call probing) the order
    is not touched (no lookup, no unanswered check counted towards flagging): ``"unknown"``, and
    the next run asks again.
    """
    provider = provider or get_provider()
    if not provider_is_available(provider):
        return "unknown"
    attempt = _order_claim_payment(order=order)
    if attempt is None:
        return "busy"
    try:
        if order.payment_provider and order.payment_provider != provider.name:
            raise PaymentProviderError(f"charged through {order.payment_provider!r}, not {provider.name!r}")
        result = provider.lookup(idempotency_key=_payment_key(order.pk))
    except PaymentsUnavailable:  # the breaker opened meanwhile (or another process probes): ask next run
        _order_release_payment(order_id=order.pk, attempt=attempt)
        return "unknown"
    except PaymentProviderError as error:
        logger.warning("could not ask %s about order %s: %s", provider.name, order.pk, error)
        if _order_release_payment(order_id=order.pk, attempt=attempt, count_check=True):
            logger.error("order %s: payment still unknown after many checks; flagged for staff", order.pk)
            return "flagged"
        return "unknown"
    if result is None:
        result = PaymentResult(is_approved=False, reference="", card_last4="", message=_NOT_CHARGED_MESSAGE)
    settled = _order_record_payment(order=order, attempt=attempt, result=result, cart=None)
    return "paid" if settled.status == Order.Status.PAID else "cancelled"


def orders_reconcile_pending(
    *, settle_after: timedelta | None = None, provider: PaymentProvider | None = None
) -> dict[str, int]:
    """Settle pending orders whose last try ended ``settle_after`` ago (``CART_PAYMENT_RECONCILE_AFTER_SECONDS``).

    The wait lets a charge the provider was still working on when we stopped waiting finish
    before "no charge under this key" is believed. At most ``_SETTLE_BATCH`` orders a run;
    safe to run twice at once (each order is claimed). Counts of ``order_reconcile`` outcomes.
    """
    wait = (
        settle_after if settle_after is not None else timedelta(seconds=settings.CART_PAYMENT_RECONCILE_AFTER_SECONDS)
    )
    last_try_before = timezone.now() - wait
    pending = (
        Order.objects.filter(status=Order.Status.PENDING)
        .filter(Q(payment_claimed_until__isnull=True) | Q(payment_claimed_until__lte=last_try_before))
        .order_by("pk")[:_SETTLE_BATCH]
    )
    outcomes = [order_reconcile(order=order, provider=provider) for order in pending]
    return {
        "paid": outcomes.count("paid"),
        "cancelled": outcomes.count("cancelled"),
        "unknown": outcomes.count("unknown") + outcomes.count("flagged"),
        "flagged": outcomes.count("flagged"),
    }


def orders_cancel_abandoned(*, older_than: timedelta | None = None, provider: PaymentProvider | None = None) -> int:
    """Cancel and restock orders left "placed" (``CART_ORDER_ABANDONED_AFTER_MINUTES``) the provider confirms unpaid.

    An order stays placed only if its process died between reserving the stock and claiming
    the payment. Each is settled by ``order_reconcile``, claimed on the status read: one paid
    in between is not touched, one the provider did charge becomes paid, one it cannot answer
    for becomes pending (and ``orders_reconcile_pending`` takes over). Safe to run twice.
    Returns how many it cancelled.
    """
    age = older_than if older_than is not None else timedelta(minutes=settings.CART_ORDER_ABANDONED_AFTER_MINUTES)
    stuck = Order.objects.filter(status=Order.Status.PLACED, created_at__lt=timezone.now() - age).order_by("pk")
    return sum(order_reconcile(order=order, provider=provider) == "cancelled" for order in stuck[:_SETTLE_BATCH])
