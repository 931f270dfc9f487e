"""Partner carts and orders: the cart app's services, owned by a partner instead of a visitor.

A partner opens carts for its own customers, fills them and places orders, which the
partner pays by invoice. Nothing here re-implements the cart: lines are written by
``cart.services`` (atomic Lua in Redis), shown by ``cart.selectors.cart_contents`` and
ordered by ``cart.services.order_place`` — the same code the shop's pages call. What this
module adds is ownership (``PartnerCart`` rows, carts keyed by partner, orders owned by
the partner's account) and idempotency keys chosen by the partner.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet

from cart.models import Order
from cart.payments import CardDetails, PaymentResult
from cart.services import ShippingAddress, order_place
from cart.store import DAY_SECONDS, CartRef
from cloudshelf.api.models import Partner, PartnerCart

# Partner Idempotency-Keys are free text; orders store a UUID per (owner, key).
_IDEMPOTENCY_NAMESPACE = uuid.UUID("5d7f3c1e-8a64-4f0b-9a53-2f1e6c0d9b47")
# Partner orders are invoiced: no card is involved, and nothing card-like is stored.
_NO_CARD = CardDetails(number="", expiry_month=1, expiry_year=1, cvc="")


class PartnerCartError(Exception):
    """A partner cart request clashes with the cart's state; nothing changed."""

    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message
        super().__init__(message)


class PartnerInvoiceProvider:
    """Payment for partner orders: the partner is invoiced, so the charge always succeeds."""

    name = "partner-invoice"

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        return self._invoiced(idempotency_key)

    def lookup(self, *, idempotency_key: str) -> PaymentResult | None:
        """Reconciliation's question; an invoice cannot fail, so its answer is always "charged"."""
        return self._invoiced(idempotency_key)

    @staticmethod
    def _invoiced(idempotency_key: str) -> PaymentResult:
        reference = "inv_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        return PaymentResult(is_approved=True, reference=reference, card_last4="")


def partner_cart_ref(cart: PartnerCart) -> CartRef:
    """Where the cart's lines live: a key of its own, which names the partner."""
    return CartRef(
        key=f"cart:{{partner:{cart.partner_id}:{cart.pk}}}", ttl_seconds=settings.CART_CUSTOMER_TTL_DAYS * DAY_SECONDS
    )


def partner_account(*, partner: Partner) -> User:
    """The user that owns the partner's orders, made on first use (under a row lock, so once)."""
    if partner.account_id is not None:
        return User.objects.get(pk=partner.account_id)
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.account_id is None:
            account = User(username=f"api-partner:{partner.pk}", is_active=False)
            account.set_unusable_password()
            account.save()
            locked.account = account
            locked.save(update_fields=["account"])
    assert locked.account_id is not None
    partner.account_id = locked.account_id
    return User.objects.get(pk=locked.account_id)


# --- Reads -------------------------------------------------------------------------------------


def partner_cart(*, partner: Partner, cart_id: uuid.UUID) -> PartnerCart | None:
    """Cart ``cart_id`` only if ``partner`` opened it: the ownership check of every cart call."""
    return PartnerCart.objects.filter(pk=cart_id, partner=partner).first()


def partner_orders(*, partner: Partner) -> QuerySet[Order]:
    """The partner's orders with their lines and cart, newest first (the customer-orders index)."""
    orders = Order.objects.filter(user_id=partner.account_id) if partner.account_id else Order.objects.none()
    return orders.select_related("partner_cart").prefetch_related("lines").order_by("-created_at", "-id")


def partner_order(*, partner: Partner, order_id: int) -> Order | None:
    """Order ``order_id`` only if ``partner`` placed it."""
    if not 0 < order_id < 2**63:
        return None
    return partner_orders(partner=partner).filter(pk=order_id).first()


# --- Writes ------------------------------------------------------------------------------------


def partner_cart_create(*, partner: Partner, customer_reference: str = "") -> PartnerCart:
    """Open an empty cart for one of the partner's customers."""
    return PartnerCart.objects.create(partner=partner, customer_reference=customer_reference)


def partner_cart_check_open(*, cart: PartnerCart) -> None:
    """Refuse changes to a cart that has become an order."""
    if cart.order_id is not None:
        raise PartnerCartError("cart_ordered", "This cart has been ordered; open a new cart.")


@dataclass(frozen=True)
class PlacedOrder:
    order: Order
    is_replay: bool  # True when the Idempotency-Key had already placed this order


def partner_order_place(
    *, cart: PartnerCart, address: ShippingAddress, idempotency_key: str, expected_total: Decimal | None = None
) -> PlacedOrder:
    """Turn the partner's cart into a paid (invoiced) order, once per ``idempotency_key``.

    The cart row is locked for the duration, so two submits of one cart run one after the
    other: the second finds the first's order. The same key again returns that order
    (``is_replay``); the key reused for another cart, or the cart ordered again under a
    new key, is a ``PartnerCartError`` (409) — also when the key arrives on two carts at
    once, which the cart locks do not serialise: the order's unique ``(user, key)`` does.
    Stock, prices and the order itself are ``order_place``'s business, and its
    ``CartError``s pass through unchanged.
    """
    account = partner_account(partner=cart.partner)
    order_key = uuid.uuid5(_IDEMPOTENCY_NAMESPACE, idempotency_key)
    with transaction.atomic():
        locked = PartnerCart.objects.select_for_update().get(pk=cart.pk)
        existing = Order.objects.filter(user=account, idempotency_key=order_key).first()
        if existing is not None:
            if locked.order_id != existing.pk:
                raise PartnerCartError(
                    "idempotency_key_reused", "This Idempotency-Key already placed an order for another cart."
                )
            return PlacedOrder(order=existing, is_replay=True)
        partner_cart_check_open(cart=locked)
        order = order_place(
            user=account,
            cart=partner_cart_ref(locked),
            address=address,
            card=_NO_CARD,
            idempotency_key=order_key,
            expected_total=expected_total,
            provider=PartnerInvoiceProvider(),
        )
        if order.cart_key != partner_cart_ref(locked).key:
            # The same key placed another cart's order concurrently (the cart locks did not
            # serialise the two, and order_place answered with the order that won the unique
            # index): the same refusal as when the two arrive one after the other.
            raise PartnerCartError(
                "idempotency_key_reused", "This Idempotency-Key already placed an order for another cart."
            )
        locked.order, locked.order_idempotency_key = order, idempotency_key
        locked.save(update_fields=["order", "order_idempotency_key"])
    cart.order, cart.order_idempotency_key = order, idempotency_key
    return PlacedOrder(order=order, is_replay=False)
