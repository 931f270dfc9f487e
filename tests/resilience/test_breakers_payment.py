"""The payment breaker around the card processor (cart.payments): checkout and reconciliation
against the processor of tests/cart served on loopback, its calls counted where they arrive."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from cart import services, tasks
from cart.models import Order
from cart.payments import payment_breaker
from cart.store import customer_cart
from catalog.models import Inventory
from cloudshelf.breaker import CLOSED, HALF_OPEN, OPEN
from tests.cart.helpers import ADDRESS, ADDRESS_FORM, APPROVED_CARD, DECLINED_CARD, card_form, hidden_value, quantities
from tests.factories import BookFactory
from tests.resilience.conftest import COOLDOWN

pytestmark = pytest.mark.django_db


@pytest.fixture
def cart(customer):
    return customer_cart(customer.pk)


@pytest.fixture
def book(cart):
    """Two copies of “Dune” at $10.00 in the customer's cart, five in stock."""
    dune = BookFactory(title="Dune", price=Decimal("10.00"), stock=5)
    services.cart_add_item(cart=cart, book_id=dune.pk, quantity=2)
    return dune


def stock(book) -> int:
    return Inventory.objects.get(book=book).stock_on_hand


def place(customer, cart, card=APPROVED_CARD, key=None):
    return services.order_place(
        user=customer, cart=cart, address=ADDRESS, card=card, idempotency_key=key or uuid.uuid4()
    )


def open_by_timeouts(customer, cart, processor) -> list[Order]:
    """Two charges that time out after charging: two pending orders, and the breaker opens."""
    processor.behaviour = "stall_after_charge"
    pending = [place(customer, cart) for _ in range(2)]
    processor.behaviour = "normal"
    assert [order.status for order in pending] == [Order.Status.PENDING] * 2
    return pending


# --- Checkout -------------------------------------------------------------------------------------


def test_server_errors_open_it_and_then_checkout_makes_no_call_and_no_order(customer, cart, book, processor):
    processor.behaviour = "error"
    place(customer, cart)
    place(customer, cart)
    assert payment_breaker.state == OPEN
    orders_before, stock_before = Order.objects.count(), stock(book)
    processor.behaviour = "normal"

    with pytest.raises(services.CartError) as refused:
        place(customer, cart)

    assert refused.value.code == "payments_unavailable"
    assert refused.value.message == (
        "We cannot take card payments right now. You have not been charged and your cart is kept; "
        "please try again in a few minutes."
    )
    assert processor.charge_requests == 2  # the third checkout never reached the processor
    assert Order.objects.count() == orders_before
    assert stock(book) == stock_before
    assert quantities(cart) == {book.pk: 2}


def test_timeouts_open_it_and_the_unknown_charges_stay_pending_never_charged_twice(customer, cart, book, processor):
    pending = open_by_timeouts(customer, cart, processor)

    assert payment_breaker.state == OPEN
    assert processor.charges_made == 2
    for order in pending:
        order.refresh_from_db()
        assert (order.status, order.payment_declined) == (Order.Status.PENDING, False)


def test_declines_are_answers_and_never_open_it(customer, cart, book, processor):
    for _ in range(3):
        with pytest.raises(services.CartError, match="Your card was declined"):
            place(customer, cart, card=DECLINED_CARD)

    assert payment_breaker.state == CLOSED
    assert place(customer, cart).status == Order.Status.PAID


def test_after_the_cooldown_one_checkout_probes_and_its_success_closes_it(customer, cart, book, processor):
    payment_breaker.trip()
    time.sleep(COOLDOWN + 0.05)
    assert payment_breaker.state == HALF_OPEN

    order = place(customer, cart)

    assert order.status == Order.Status.PAID
    assert payment_breaker.state == CLOSED
    assert processor.charges_made == 1


def test_a_failed_probe_opens_it_for_another_cooldown(customer, cart, book, processor):
    payment_breaker.trip()
    time.sleep(COOLDOWN + 0.05)
    processor.behaviour = "error"

    probed = place(customer, cart)

    assert probed.status == Order.Status.PENDING
    assert payment_breaker.state == OPEN
    with pytest.raises(services.CartError, match="We cannot take card payments right now"):
        place(customer, cart)
    assert processor.charge_requests == 1


def test_a_breaker_that_opens_after_the_order_was_made_cancels_and_restocks_it(
    customer, cart, book, processor, monkeypatch
):
    """The race: the check before the order passed, then another process tripped the breaker."""
    monkeypatch.setattr(services, "provider_is_available", lambda provider: True)
    payment_breaker.trip()
    key = uuid.uuid4()

    with pytest.raises(services.CartError) as refused:
        place(customer, cart, key=key)

    assert refused.value.code == "payments_unavailable"
    order = Order.objects.get(user=customer, idempotency_key=key)
    assert (order.status, order.payment_declined) == (Order.Status.CANCELLED, True)
    assert stock(book) == 5
    assert quantities(cart) == {book.pk: 2}
    assert processor.charge_requests == 0


def test_a_retry_of_an_unknown_charge_the_breaker_refuses_at_the_call_leaves_the_order_pending(
    customer, cart, book, processor, monkeypatch
):
    """The race: the check before the retry passed, then the breaker opened. An earlier try may
    have charged: only reconciliation may settle this order."""
    processor.behaviour = "stall_after_charge"
    key = uuid.uuid4()
    first = place(customer, cart, key=key)
    processor.behaviour = "normal"
    monkeypatch.setattr(services, "provider_is_available", lambda provider: True)
    payment_breaker.trip()

    retried = place(customer, cart, key=key)

    assert retried.pk == first.pk
    assert retried.status == Order.Status.PENDING
    assert stock(book) == 3
    assert processor.charge_requests == 1


def test_a_resubmit_of_an_unknown_charge_while_open_shows_the_pending_order_not_a_refusal(
    customer, cart, book, processor
):
    """The timeout that left the order pending is what opened the breaker: the retry must not say
    "you have not been charged" (it may have been), only show the order being confirmed."""
    processor.behaviour = "stall_after_charge"
    key = uuid.uuid4()
    first = place(customer, cart, key=key)
    processor.behaviour = "normal"
    payment_breaker.trip()

    retried = place(customer, cart, key=key)

    assert (retried.pk, retried.status) == (first.pk, Order.Status.PENDING)
    assert (Order.objects.count(), stock(book)) == (1, 3)
    assert (processor.charge_requests, processor.charges_made) == (1, 1)


def test_a_double_submit_of_a_paid_order_while_open_answers_with_the_paid_order(customer, cart, book, processor):
    key = uuid.uuid4()
    first = place(customer, cart, key=key)
    payment_breaker.trip()

    again = place(customer, cart, key=key)

    assert (again.pk, again.status) == (first.pk, Order.Status.PAID)
    assert (Order.objects.count(), processor.charge_requests) == (1, 1)


def test_while_another_process_probes_checkout_makes_no_order(customer, cart, book, processor):
    """Half-open with the probe taken elsewhere: refused before any order is made (no order made
    and cancelled, no stock taken and put back, for every checkout during the probe)."""
    payment_breaker.trip()
    time.sleep(COOLDOWN + 0.05)
    assert payment_breaker.acquire().is_probe  # another process's probe, at the provider now

    with pytest.raises(services.CartError) as refused:
        place(customer, cart)

    assert refused.value.code == "payments_unavailable"
    assert (Order.objects.count(), stock(book), processor.charge_requests) == (0, 5, 0)
    assert quantities(cart) == {book.pk: 2}


def test_the_checkout_page_sends_the_customer_back_to_review_with_the_reason(customer_client, cart, book, processor):
    customer_client.post("/checkout/", ADDRESS_FORM)
    html = customer_client.get("/checkout/review/").content.decode()
    form = {name: hidden_value(html, name) for name in ("idempotency_key", "expected_total")}
    payment_breaker.trip()

    response = customer_client.post("/checkout/place/", form | card_form(), follow=True)

    assert response.redirect_chain == [("/checkout/review/", 302)]
    assert "We cannot take card payments right now." in response.content.decode()
    assert Order.objects.count() == 0
    assert quantities(cart) == {book.pk: 2}
    assert processor.charge_requests == 0


# --- Reconciliation -------------------------------------------------------------------------------


def test_reconciliation_skips_while_open_without_asking_or_counting_a_check(customer, cart, book, processor):
    pending = open_by_timeouts(customer, cart, processor)

    report = tasks.orders_reconcile_pending()

    assert report == {"paid": 0, "cancelled": 0, "unknown": 2, "flagged": 0}
    assert processor.lookup_requests == 0
    for order in pending:
        order.refresh_from_db()
        assert (order.status, order.payment_checks, order.needs_attention) == (Order.Status.PENDING, 0, False)


def test_reconciliation_settles_every_order_once_the_breaker_lets_it(customer, cart, book, processor):
    pending = open_by_timeouts(customer, cart, processor)
    tasks.orders_reconcile_pending()
    time.sleep(COOLDOWN + 0.05)

    first = tasks.orders_reconcile_pending()  # the probe settles one and closes it; the next is asked too

    assert first == {"paid": 2, "cancelled": 0, "unknown": 0, "flagged": 0}
    assert payment_breaker.state == CLOSED
    assert {Order.objects.get(pk=order.pk).status for order in pending} == {Order.Status.PAID}
    assert processor.charges_made == 2  # each order charged exactly once
    assert processor.charge_requests == 2
