"""``cart.payments.HttpPaymentProvider`` against a card processor's API served on loopback."""

from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from cart.payments import HttpPaymentProvider, PaymentProviderError, PaymentResult, get_provider
from tests.cart.helpers import APPROVED_CARD, DECLINED_CARD
from tests.cart.payment_server import closed_port_url


def charge(card=APPROVED_CARD, key="cloudshelf-order-1", **provider_arguments) -> PaymentResult:
    return HttpPaymentProvider(**provider_arguments).charge(
        amount=Decimal("24.50"), currency="USD", card=card, idempotency_key=key, description="CloudShelf order #1"
    )


def test_an_approved_charge_sends_minor_units_and_the_idempotency_key(processor):
    result = charge()

    assert result == PaymentResult(is_approved=True, reference="ch_000001", card_last4="4242", message="")
    assert processor.charges["cloudshelf-order-1"] == {
        "id": "ch_000001",
        "status": "succeeded",
        "amount": 2450,
        "currency": "usd",
        "card_last4": "4242",
    }


def test_a_declined_charge_carries_the_processors_message(processor):
    result = charge(card=DECLINED_CARD)

    assert (result.is_approved, result.message, result.card_last4) == (False, "Your card was declined.", "0002")


def test_a_retried_charge_with_the_same_key_charges_once(processor):
    first, second = charge(), charge()

    assert first == second
    assert (processor.charge_requests, processor.charges_made) == (2, 1)


def test_the_provider_is_chosen_by_settings(processor):
    assert isinstance(get_provider(), HttpPaymentProvider)


def test_a_charge_that_stalls_past_the_read_timeout_is_an_error_not_a_decline(processor):
    processor.behaviour = "stall_after_charge"

    with pytest.raises(PaymentProviderError, match="ReadTimeout"):
        charge()

    assert processor.charges_made == 1  # the money moved all the same


def test_a_server_error_is_an_error(processor):
    processor.behaviour = "error"

    with pytest.raises(PaymentProviderError, match="HTTP 500"):
        charge()


@pytest.mark.parametrize(
    ("behaviour", "error"), [("garbage", "JSONDecodeError"), ("no_outcome", "names no charge outcome")]
)
def test_an_answer_that_is_not_a_charge_is_an_error_not_a_decline(processor, behaviour, error):
    processor.behaviour = behaviour

    with pytest.raises(PaymentProviderError, match=error):
        charge()


def test_a_provider_that_is_down_is_an_error(settings):
    with pytest.raises(PaymentProviderError, match="ConnectionError"):
        charge(api_url=closed_port_url(), api_key="sk", connect_timeout=1.0, read_timeout=1.0)


def test_a_wrong_api_key_is_an_error(processor):
    with pytest.raises(PaymentProviderError, match="HTTP 401"):
        charge(api_key="sk_wrong")


def test_lookup_finds_the_charge_a_key_made_and_none_for_an_unknown_key(processor):
    charge(key="cloudshelf-order-7")
    charge(card=DECLINED_CARD, key="cloudshelf-order-8")
    provider = HttpPaymentProvider()

    assert provider.lookup(idempotency_key="cloudshelf-order-7") == PaymentResult(
        is_approved=True, reference="ch_000001", card_last4="4242", message=""
    )
    assert provider.lookup(idempotency_key="cloudshelf-order-8").is_approved is False
    assert provider.lookup(idempotency_key="cloudshelf-order-9") is None


def test_lookup_quotes_a_hostile_key(processor):
    charge(key="a/../b?c=d#e f")

    assert HttpPaymentProvider().lookup(idempotency_key="a/../b?c=d#e f").is_approved


def test_a_lookup_the_processor_cannot_answer_is_an_error(processor):
    processor.behaviour = "lookup_error"

    with pytest.raises(PaymentProviderError, match="HTTP 500"):
        HttpPaymentProvider().lookup(idempotency_key="cloudshelf-order-1")


@pytest.mark.parametrize("url", ["", "ftp://payments.example", "payments.example"])
def test_a_missing_or_odd_api_url_is_refused_at_once(settings, url):
    settings.CART_PAYMENT_API_URL = url

    with pytest.raises(ImproperlyConfigured, match="CART_PAYMENT_API_URL"):
        HttpPaymentProvider()
