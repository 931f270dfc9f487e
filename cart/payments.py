"""Taking payment: one small interface and the built-in test provider.

CloudShelf never stores card data. A provider gets the card details for the length of one
``charge`` call and returns a ``PaymentResult``; the order keeps only the provider's name,
its reference and the last four digits of the card.

``TestCardProvider`` (the default, ``CART_PAYMENT_PROVIDER``) talks to nobody. It approves
the test cards below and declines the documented declining ones; any other number is
declined too, so a real card typed into a test shop is never "charged":

===================== ==========================================
4242 4242 4242 4242   approved (Visa)
5555 5555 5555 4444   approved (Mastercard)
3782 822463 10005     approved (American Express)
4000 0000 0000 0002   declined: "Your card was declined."
4000 0000 0000 9995   declined: "Your card has insufficient funds."
===================== ==========================================
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class PaymentProviderError(Exception):
    """The provider could not be asked (network, outage). The order is not paid."""


@dataclass(frozen=True)
class CardDetails:
    """What the customer typed. Lives for one request; never saved, logged or rendered back."""

    number: str
    expiry_month: int
    expiry_year: int
    cvc: str

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def __repr__(self) -> str:  # keep card numbers out of tracebacks and logs
        return f"CardDetails(last4={self.last4!r})"


@dataclass(frozen=True)
class PaymentResult:
    is_approved: bool
    reference: str
    card_last4: str
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        """Charge ``amount`` to ``card``.

        ``idempotency_key`` is the same for every attempt to pay one order, so a provider that
        supports it (all real ones do) charges at most once however often this is retried.
        """
        ...


APPROVED_TEST_CARDS = frozenset({"4242424242424242", "5555555555554444", "378282246310005"})
DECLINED_TEST_CARDS = {
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
}


def luhn_is_valid(number: str) -> bool:
    """The check digit of card numbers (ISO/IEC 7812)."""
    if not number.isdigit():
        return False
    total = 0
    for index, digit in enumerate(int(character) for character in reversed(number)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


class TestCardProvider:
    """Approves the test cards, declines everything else. Talks to no one."""

    name = "test"
    __test__ = False  # not a pytest test class, whatever its name says

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        # Derived from the idempotency key, as a real provider's would be: a retried charge
        # gets the same reference.
        reference = "test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        if card.number in APPROVED_TEST_CARDS:
            return PaymentResult(is_approved=True, reference=reference, card_last4=card.last4)
        message = DECLINED_TEST_CARDS.get(
            card.number, "This shop takes test cards only (for example 4242 4242 4242 4242)."
        )
        return PaymentResult(is_approved=False, reference=reference, card_last4=card.last4, message=message)


def get_provider() -> PaymentProvider:
    """The provider named by ``CART_PAYMENT_PROVIDER``."""
    provider: PaymentProvider = import_string(settings.CART_PAYMENT_PROVIDER)()
    return provider
