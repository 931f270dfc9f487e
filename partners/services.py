"""Writes of the partners app: API keys (issue, revoke, record use) and partner carts and orders.

Keyword-only functions named ``<entity>_<action>``, called by the admin, by tests, by the
API's authentication step (through ``partners.keys``) and by ``cart/api.py``; nothing else
writes these rows.

Partner carts are the cart app's services, owned by a partner instead of a visitor. A
partner opens carts for its own customers, fills them and places orders, which the
partner pays by invoice. Nothing here re-implements the cart: lines are written by
``cart.services`` (atomic Lua in Redis), shown by ``cart.selectors.cart_contents`` and
ordered by ``cart.services.order_place`` — the same code the shop's pages call. What this
module adds is ownership (``PartnerCart`` rows, carts keyed by partner, orders owned by
the partner's account) and idempotency keys chosen by the partner.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from cart.models import Order
from cart.payments import CardDetails, PaymentResult
from cart.services import ShippingAddress, order_place
from cart.store import DAY_SECONDS, CartRef
from cloudshelf.redis_keys import hash_tag
from partners.key_cache import KEY_PREFIX, forget_api_keys, hash_raw_key
from partners.models import ApiKey, Partner, PartnerCart

# --- API keys ----------------------------------------------------------------------------------

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_PREFIX_LENGTH = 8
_SECRET_BYTES = 32  # 256 bits: a hash of it needs no salt or stretching


@dataclass(frozen=True)
class IssuedApiKey:
    """A freshly issued key. ``raw_key`` exists only here: show it once, never store it."""

    api_key: ApiKey
    raw_key: str


def _new_prefix() -> str:
    return KEY_PREFIX + "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(_PREFIX_LENGTH))


def api_key_create(*, partner: Partner, name: str, can_write: bool = True) -> IssuedApiKey:
    """Issue a new key for ``partner``: ``cs_live_<8 chars>.<43 chars of secret>``.

    The prefix is random too, and unique; on the one-in-trillions clash with an existing
    prefix the insert fails on the unique index and a new prefix is drawn.
    """
    for _ in range(5):
        prefix = _new_prefix()
        raw_key = f"{prefix}.{secrets.token_urlsafe(_SECRET_BYTES)}"
        try:
            with transaction.atomic():
                api_key = ApiKey.objects.create(
                    partner=partner, name=name, prefix=prefix, key_hash=hash_raw_key(raw_key), can_write=can_write
                )
        except IntegrityError:
            continue
        return IssuedApiKey(api_key=api_key, raw_key=raw_key)
    raise RuntimeError("could not draw a unique API key prefix")  # pragma: no cover - 36**8 prefixes


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good; the next request made with it gets 401. Revoking twice keeps the first time."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    api_key.refresh_from_db(fields=["revoked_at", "key_hash"])
    forget_api_keys(key_hashes=[api_key.key_hash])
    return api_key


def api_key_use_marker(*, api_key: ApiKey) -> str:
    """The cache key whose absence means "this key's use has not been written this interval".

    Tagged like the partner's rate-limit bucket (``partner:<id>``, cloudshelf.api.middleware):
    the limiter's script sets the marker, and on a Redis Cluster both keys must share a slot.
    """
    return f"api:key-used:{hash_tag(f'partner:{api_key.partner_id}')}:{api_key.pk}"


def api_key_record_use(*, api_key: ApiKey) -> None:
    """Move ``last_used_at`` to now.

    Called only for the first request of each ``API_KEY_LAST_USED_INTERVAL`` per key: the
    API middleware (through ``partners.keys``) learns that from the rate limiter, which sets the key's use marker in
    the same Redis round trip (atomically, across every worker), so noting a key's use
    costs one row write a minute instead of one per request.
    """
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


# --- Partner carts and orders ------------------------------------------------------------------

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
