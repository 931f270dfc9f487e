"""The payment-provider interface and the built-in test provider."""

from decimal import Decimal

import pytest

from cart.payments import CardDetails, TestCardProvider, get_provider, luhn_is_valid


def card(number: str) -> CardDetails:
    return CardDetails(number=number, expiry_month=12, expiry_year=2040, cvc="123")


def charge(number: str, key: str = "order-1"):
    return TestCardProvider().charge(
        amount=Decimal("9.99"), currency="USD", card=card(number), idempotency_key=key, description="test"
    )


@pytest.mark.parametrize("number", ["4242424242424242", "5555555555554444", "378282246310005"])
def test_the_test_cards_are_approved(number):
    result = charge(number)

    assert result.is_approved
    assert result.card_last4 == number[-4:]


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4000000000000002", "Your card was declined."),
        ("4000000000009995", "Your card has insufficient funds."),
        ("4111111111111111", "This shop takes test cards only (for example 4242 4242 4242 4242)."),
    ],
)
def test_the_declining_cards_and_any_other_card_are_declined(number, message):
    result = charge(number)

    assert not result.is_approved
    assert result.message == message


def test_a_retried_charge_gets_the_same_reference():
    assert charge("4242424242424242", "order-7").reference == charge("4242424242424242", "order-7").reference
    assert charge("4242424242424242", "order-7").reference != charge("4242424242424242", "order-8").reference


def test_card_details_never_show_the_number():
    assert repr(card("4242424242424242")) == "CardDetails(last4='4242')"


@pytest.mark.parametrize(("number", "valid"), [("4242424242424242", True), ("4242424242424241", False), ("abc", False)])
def test_luhn(number, valid):
    assert luhn_is_valid(number) is valid


def test_the_provider_comes_from_settings(settings):
    settings.CART_PAYMENT_PROVIDER = "cart.payments.TestCardProvider"

    assert isinstance(get_provider(), TestCardProvider)


def test_the_test_provider_answers_lookups_by_idempotency_key():
    provider = TestCardProvider()
    approved = charge("4242424242424242", "order-21")
    declined = charge("4000000000000002", "order-22")

    assert provider.lookup(idempotency_key="order-21") == approved
    assert provider.lookup(idempotency_key="order-22") == declined
    assert provider.lookup(idempotency_key="order-23") is None


def test_the_test_provider_answers_a_replayed_key_with_the_first_outcome():
    first = charge("4000000000000002", "order-31")

    assert charge("4242424242424242", "order-31") == first
