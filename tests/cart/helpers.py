"""Shared data and helpers of the cart tests (fixtures live in ``conftest.py``)."""

from __future__ import annotations

import re

from django.core.cache import caches

from cart.payments import CardDetails
from cart.services import ShippingAddress
from cart.store import CartRef, StoredLine, get_store

ADDRESS_FORM = {
    "name": "Alice Reader",
    "line1": "1 Library Lane",
    "line2": "",
    "city": "Booktown",
    "region": "",
    "postal_code": "12345",
    "country": "GB",
}
ADDRESS = ShippingAddress(**ADDRESS_FORM)
APPROVED_CARD = CardDetails(number="4242424242424242", expiry_month=12, expiry_year=2040, cvc="123")
DECLINED_CARD = CardDetails(number="4000000000000002", expiry_month=12, expiry_year=2040, cvc="123")


def card_form(number: str = "4242 4242 4242 4242") -> dict[str, str]:
    return {"card_number": number, "card_expiry": "12/40", "card_cvc": "123"}


def cart_lines(cart: CartRef) -> dict[int, StoredLine]:
    """The stored lines, read without touching the idle clock."""
    return get_store().lines(cart, refresh=False)


def quantities(cart: CartRef) -> dict[int, int]:
    return {book_id: line.quantity for book_id, line in cart_lines(cart).items()}


def hidden_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def raw_key(cart: CartRef) -> str:
    """The Redis key of ``cart`` (the cache's key prefix and version in front)."""
    return str(caches["durable"].make_key(cart.key))
