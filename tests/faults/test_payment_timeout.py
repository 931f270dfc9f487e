"""The payment provider timing out: the customer sees "pending", is never charged twice, and reconciliation settles it.

End to end: a signed-in customer checks out through the real app (gunicorn) while the card
processor (``tests.cart.payment_server``, a real HTTP API on loopback) records the charge
and then says nothing past the app's read timeout. The customer presses "Place order"
again, as people do; the beat job (``cart.tasks.orders_reconcile_pending``) then asks the
processor what happened.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from cart import tasks
from cart.models import Order
from catalog.models import Inventory
from tests.cart.helpers import ADDRESS_FORM, card_form
from tests.cart.payment_server import API_KEY, FakeProcessor
from tests.factories import BookFactory
from tests.faults.conftest import browser, wait_for
from tests.workers import real_worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

READ_TIMEOUT_SECONDS = "0.5"  # the app's CART_PAYMENT_TIMEOUT: the processor stays silent past it


@pytest.fixture
def processor():
    """A card processor's API on loopback (``tests.cart.payment_server``)."""
    fake = FakeProcessor().start()
    yield fake
    fake.stop()


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no field {name} on the page"
    return match.group(1)


def test_a_charge_without_an_answer_is_pending_charged_once_and_settled_by_reconciliation(
    app_server, customer, processor
):
    dune = BookFactory(title="Dune", price=Decimal("10.00"), stock=5)
    server = app_server(
        CART_PAYMENT_PROVIDER="cart.payments.HttpPaymentProvider",
        CART_PAYMENT_API_URL=processor.url,
        CART_PAYMENT_API_KEY=API_KEY,
        CART_PAYMENT_TIMEOUT=READ_TIMEOUT_SECONDS,
    )
    shopper = browser(server, customer)
    book_page = shopper.get(server.url + dune.get_absolute_url()).text
    token = hidden(book_page, "csrfmiddlewaretoken")
    form = {"csrfmiddlewaretoken": token}
    assert shopper.post(f"{server.url}/cart/add/", data={**form, "book_id": dune.pk, "quantity": 2}).status_code == 200
    shopper.post(f"{server.url}/checkout/", data={**form, **ADDRESS_FORM})
    review = shopper.get(f"{server.url}/checkout/review/").text
    place_order = {
        **form,
        **card_form(),
        "idempotency_key": hidden(review, "idempotency_key"),
        "expected_total": hidden(review, "expected_total"),
    }
    processor.behaviour = "stall_after_charge"

    placed = shopper.post(f"{server.url}/checkout/place/", data=place_order)
    again = shopper.post(f"{server.url}/checkout/place/", data=place_order)  # "nothing happened?": pressed again

    order = Order.objects.get(user=customer)
    assert placed.status_code == again.status_code == 200
    assert placed.url == again.url == server.url + order.get_absolute_url()
    assert "Payment being confirmed" in placed.text
    assert "You will not be charged twice" in placed.text
    assert order.status == Order.Status.PENDING
    assert processor.charges_made == 1  # charged once, though asked twice under one key
    assert processor.charge_requests == 2
    assert Inventory.objects.get(book=dune).stock_on_hand == 3

    processor.behaviour = "normal"
    worker_environment = {
        "CACHE_KEY_PREFIX": server.cache_key_prefix,  # the app's carts: reconciliation empties the paid lines
        "CART_PAYMENT_PROVIDER": "cart.payments.HttpPaymentProvider",
        "CART_PAYMENT_API_URL": processor.url,
        "CART_PAYMENT_API_KEY": API_KEY,
        "CART_PAYMENT_RECONCILE_AFTER_SECONDS": "0",
    }
    with real_worker("faults-payment", worker_environment) as worker:
        tasks.orders_reconcile_pending.delay()  # what beat sends every minute
        wait_for(lambda: Order.objects.get(pk=order.pk).status != Order.Status.PENDING)
        worker.assert_alive()

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert processor.charges_made == 1
    assert Inventory.objects.get(book=dune).stock_on_hand == 3
    paid = shopper.get(server.url + order.get_absolute_url())
    assert "Payment being confirmed" not in paid.text
    assert order.get_status_display() in paid.text
    assert "Your cart is empty" in shopper.get(f"{server.url}/cart/").text  # the paid books left it
