"""Taking payment: one small interface, the built-in test provider and an HTTP provider.

CloudShelf never stores card data. A provider gets the card details for the length of one
``charge`` call and returns a ``PaymentResult``; the order keeps only the provider's name,
its reference and the last four digits of the card.

Every charge carries an idempotency key (one per order), and a provider answers
``lookup(idempotency_key=...)``: did this key charge? That is how an order whose charge
timed out is settled later (``cart.services.order_reconcile``) without charging twice.

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

``HttpPaymentProvider`` is a card processor's JSON API over HTTP (Stripe-like), with bounded
connect and read timeouts (see its docstring for the protocol), under the ``payment`` circuit
breaker (``cloudshelf.breaker``, ``CART_PAYMENT_BREAKER_*``): a timeout, a refused connection
or a 5xx counts against it, a decline or any other answer does not. While it is open the
provider is not asked at all (``PaymentsUnavailable``): checkout refuses before it makes an
order (``cart.services.order_place``) and reconciliation waits for the next run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from cloudshelf.breaker import BreakerPolicy, CircuitBreaker, cache_key_prefix


class PaymentProviderError(Exception):
    """The provider could not be asked or gave no usable answer (network, timeout, outage).

    Whether money moved is then *unknown*: the order waits, it is not declined.
    """


class PaymentsUnavailable(PaymentProviderError):
    """The payment breaker is open: the provider was not asked, so nothing was charged by this call."""


def payment_breaker_policy() -> BreakerPolicy:
    """``CART_PAYMENT_BREAKER_*`` as a breaker policy; the probe may take a call's whole timeout twice."""
    return BreakerPolicy(
        failures=settings.CART_PAYMENT_BREAKER_FAILURES,
        window=settings.CART_PAYMENT_BREAKER_WINDOW,
        cooldown=settings.CART_PAYMENT_BREAKER_COOLDOWN,
        probe_seconds=(settings.CART_PAYMENT_CONNECT_TIMEOUT + settings.CART_PAYMENT_TIMEOUT) * 2,
        key_prefix=cache_key_prefix(),
    )


payment_breaker = CircuitBreaker(
    "payment",
    policy=payment_breaker_policy,
    description="The card payment provider (HTTP); while open, checkout says payments are unavailable "
    "and reconciliation waits.",
)


def provider_is_available(provider: PaymentCharger) -> bool:
    """``False`` while the breaker of a provider that uses one would refuse the call (open, or
    half-open with another call probing): checkout then refuses before making an order.
    Half-open with no probe under way counts as available (this call will probe)."""
    return not getattr(provider, "uses_breaker", False) or payment_breaker.accepts_calls


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
    """The provider's answer about one charge: approved, or declined with a message for the customer."""

    is_approved: bool
    reference: str
    card_last4: str
    message: str = ""


class PaymentCharger(Protocol):
    """What placing an order needs of a provider: a name and a charge."""

    name: str

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        """Charge ``amount`` to ``card``, or raise ``PaymentProviderError`` when the outcome is unknown.

        ``idempotency_key`` is the same for every attempt to pay one order, so a provider that
        supports it (all real ones do) charges at most once however often this is retried.
        """
        ...


class PaymentProvider(PaymentCharger, Protocol):
    """A provider that can also say what happened to a charge (``CART_PAYMENT_PROVIDER``)."""

    def lookup(self, *, idempotency_key: str) -> PaymentResult | None:
        """The outcome of the charge made with ``idempotency_key``; ``None`` if there was none.

        Raises ``PaymentProviderError`` when the provider cannot say (it is down, it timed out).
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
    """Approves the test cards, declines everything else. Talks to no one.

    Like a real provider it remembers each outcome under its idempotency key (in the
    ``durable`` cache, for ``REMEMBER_SECONDS``): a retried charge gets the first answer,
    and ``lookup`` can tell what a key did.
    """

    name = "test"
    __test__ = False  # not a pytest test class, whatever its name says
    REMEMBER_SECONDS = 30 * 24 * 60 * 60  # longer than any order stays pending

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        remembered = self.lookup(idempotency_key=idempotency_key)
        if remembered is not None:
            return remembered
        # Derived from the idempotency key, as a real provider's would be: a retried charge
        # gets the same reference.
        reference = "test_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        if card.number in APPROVED_TEST_CARDS:
            result = PaymentResult(is_approved=True, reference=reference, card_last4=card.last4)
        else:
            message = DECLINED_TEST_CARDS.get(
                card.number, "This shop takes test cards only (for example 4242 4242 4242 4242)."
            )
            result = PaymentResult(is_approved=False, reference=reference, card_last4=card.last4, message=message)
        # add(), not set(): of two racing first charges, the first answer is the one kept.
        caches["durable"].add(self._key(idempotency_key), result, self.REMEMBER_SECONDS)
        return self.lookup(idempotency_key=idempotency_key) or result

    def lookup(self, *, idempotency_key: str) -> PaymentResult | None:
        result: PaymentResult | None = caches["durable"].get(self._key(idempotency_key))
        return result

    @staticmethod
    def _key(idempotency_key: str) -> str:
        return "payments:test:" + hashlib.sha256(idempotency_key.encode()).hexdigest()


class HttpPaymentProvider:
    """A card processor's JSON API over HTTP, Stripe-like. Every wait is bounded.

    ``POST {CART_PAYMENT_API_URL}/v1/charges`` with ``Authorization: Bearer <CART_PAYMENT_API_KEY>``,
    an ``Idempotency-Key`` header and ``{"amount": <minor units>, "currency", "description",
    "card": {"number", "exp_month", "exp_year", "cvc"}}``: 200 ``{"id", "status": "succeeded",
    "card_last4"}`` is approved, 402 ``{"id", "status": "declined", "error": {"message"}}``
    declined. ``GET /v1/charges/by-idempotency-key/<key>``: the charge made with that key, or 404.

    Anything else — a connect timeout (``CART_PAYMENT_CONNECT_TIMEOUT``), no answer within
    ``CART_PAYMENT_TIMEOUT``, a refused connection, a 5xx, a body that is not the charge —
    is a ``PaymentProviderError``: the charge may or may not have happened.
    """

    name = "http"
    uses_breaker = True

    def __init__(
        self,
        *,
        api_url: str | None = None,
        api_key: str | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.api_url = (api_url if api_url is not None else settings.CART_PAYMENT_API_URL).rstrip("/")
        if not self.api_url.startswith(("https://", "http://")):
            raise ImproperlyConfigured("CART_PAYMENT_API_URL must be the provider's http(s) URL.")
        self.api_key = api_key if api_key is not None else settings.CART_PAYMENT_API_KEY
        self.timeout = (
            connect_timeout if connect_timeout is not None else settings.CART_PAYMENT_CONNECT_TIMEOUT,
            read_timeout if read_timeout is not None else settings.CART_PAYMENT_TIMEOUT,
        )

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        body = {
            # Minor units, as processors take them; every currency the catalog sells has two decimals.
            "amount": int((amount * 100).to_integral_value()),
            "currency": currency.lower(),
            "description": description,
            "card": {
                "number": card.number,
                "exp_month": card.expiry_month,
                "exp_year": card.expiry_year,
                "cvc": card.cvc,
            },
        }
        status, answer = self._request("POST", "/v1/charges", json=body, headers={"Idempotency-Key": idempotency_key})
        if status not in (200, 402):
            raise PaymentProviderError(f"charge answered HTTP {status}")
        return self._result(answer, fallback_last4=card.last4)

    def lookup(self, *, idempotency_key: str) -> PaymentResult | None:
        status, answer = self._request("GET", "/v1/charges/by-idempotency-key/" + quote(idempotency_key, safe=""))
        if status == 404:
            return None
        if status != 200:
            raise PaymentProviderError(f"lookup answered HTTP {status}")
        return self._result(answer, fallback_last4="")

    def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """One call under the payment breaker; ``PaymentsUnavailable`` when it refused (no call made)."""
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        attempt = payment_breaker.acquire()
        if attempt is None:
            raise PaymentsUnavailable(f"{method}: the payment circuit breaker is open; the provider was not asked")
        try:
            response = requests.request(method, self.api_url + path, headers=headers, timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            payment_breaker.record_failure(attempt)
            raise PaymentProviderError(f"{method} {self.api_url}: {type(error).__name__}") from error
        if response.status_code >= 500:
            payment_breaker.record_failure(attempt)
        else:  # an answer (a decline, a 404, even a 4xx of ours): the provider is up
            payment_breaker.record_success(attempt)
        try:
            answer = response.json() if response.content else {}
        except ValueError as error:
            raise PaymentProviderError(f"{method} {self.api_url}: {type(error).__name__}") from error
        if not isinstance(answer, dict):
            raise PaymentProviderError(f"{method} answered something that is not a charge")
        return response.status_code, answer

    @staticmethod
    def _result(answer: dict[str, Any], *, fallback_last4: str) -> PaymentResult:
        status, reference = answer.get("status"), answer.get("id")
        if status not in ("succeeded", "declined") or not isinstance(reference, str):
            raise PaymentProviderError("the provider's answer names no charge outcome")
        if status == "succeeded":
            message = ""
        else:
            error = answer.get("error")
            message = str((error.get("message") if isinstance(error, dict) else "") or "Your card was declined.")
        return PaymentResult(
            is_approved=status == "succeeded",
            reference=reference[:100],
            card_last4=str(answer.get("card_last4") or fallback_last4)[-4:],
            message=message[:200],
        )


def get_provider() -> PaymentProvider:
    """The provider named by ``CART_PAYMENT_PROVIDER``."""
    provider: PaymentProvider = import_string(settings.CART_PAYMENT_PROVIDER)()
    return provider
