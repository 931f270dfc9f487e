"""Settling orders whose payment has no known outcome, and cancelling abandoned ones, by asking the provider.

The provider is a card processor's API on loopback (``tests.cart.payment_server``) that can
charge and then stall past the read timeout, fail, or be asked what a key did.
"""

import time
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from cart import services, tasks
from cart.models import Order
from cart.store import customer_cart
from catalog.models import Inventory
from tests.cart.helpers import ADDRESS, APPROVED_CARD, DECLINED_CARD, quantities
from tests.factories import BookFactory, OrderFactory, OrderLineFactory
from tests.workers import real_worker

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


@pytest.fixture(autouse=True)
def _reconcile_at_once(settings):
    settings.CART_PAYMENT_RECONCILE_AFTER_SECONDS = 0


def stock(book) -> int:
    return Inventory.objects.get(book=book).stock_on_hand


def place(customer, cart, key=None, card=APPROVED_CARD):
    return services.order_place(
        user=customer, cart=cart, address=ADDRESS, card=card, idempotency_key=key or uuid.uuid4()
    )


def pending_order(customer, cart, processor, behaviour="stall_after_charge"):
    """An order whose charge had no answer: the processor charged it (or not) and then stalled (or failed)."""
    processor.behaviour = behaviour
    order = place(customer, cart)
    assert order.status == Order.Status.PENDING
    processor.behaviour = "normal"
    return order


# --- A charge without an answer ----------------------------------------------------------------


def test_a_charge_that_times_out_after_charging_leaves_the_order_pending(customer, cart, book, processor):
    processor.behaviour = "stall_after_charge"

    order = place(customer, cart)

    order.refresh_from_db()
    assert (order.status, order.payment_declined, order.paid_at, order.cancelled_at) == (
        Order.Status.PENDING,
        False,
        None,
        None,
    )
    assert order.get_status_display() == "Payment being confirmed"
    assert processor.charges_made == 1
    assert stock(book) == 3  # still reserved for the order
    assert quantities(cart) == {book.pk: 2}  # emptied only once the payment is known


@pytest.mark.parametrize("behaviour", ["error", "down"])
def test_a_provider_error_or_outage_leaves_the_order_pending_not_declined(customer, cart, book, processor, behaviour):
    if behaviour == "down":
        processor.stop()
    else:
        processor.behaviour = behaviour

    order = place(customer, cart)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert stock(book) == 3


def test_an_explicit_decline_still_cancels_and_restocks(customer, cart, book, processor):
    with pytest.raises(services.CartError) as refused:
        place(customer, cart, card=DECLINED_CARD)

    assert refused.value.code == "payment_declined"
    assert Order.objects.get().status == Order.Status.CANCELLED
    assert stock(book) == 5
    assert quantities(cart) == {book.pk: 2}


def test_a_retry_of_the_same_checkout_reuses_the_key_and_finds_the_charge(
    customer, cart, book, processor, django_capture_on_commit_callbacks
):
    key = uuid.uuid4()
    processor.behaviour = "stall_after_charge"
    first = place(customer, cart, key=key)
    processor.behaviour = "normal"

    with django_capture_on_commit_callbacks(execute=True):
        second = place(customer, cart, key=key)

    assert second.pk == first.pk
    assert second.status == Order.Status.PAID
    assert (processor.charge_requests, processor.charges_made) == (2, 1)
    assert list(processor.charges) == [f"cloudshelf-order-{first.pk}"]
    assert Order.objects.get().payment_reference == "ch_000001"
    assert stock(book) == 3
    assert quantities(cart) == {}


# --- orders_reconcile_pending ------------------------------------------------------------------


def test_reconciling_finds_the_charge_marks_the_order_paid_and_empties_the_cart(
    customer, cart, book, processor, django_capture_on_commit_callbacks
):
    order = pending_order(customer, cart, processor)

    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.orders_reconcile_pending()

    order.refresh_from_db()
    assert report == {"paid": 1, "cancelled": 0, "unknown": 0, "flagged": 0}
    assert (order.status, order.payment_reference) == (Order.Status.PAID, "ch_000001")
    assert order.paid_at is not None
    assert processor.charges_made == 1
    assert stock(book) == 3
    assert quantities(cart) == {}


def test_reconciling_then_retrying_pays_exactly_once(customer, cart, book, processor):
    key = uuid.uuid4()
    processor.behaviour = "stall_after_charge"
    order = place(customer, cart, key=key)
    processor.behaviour = "normal"

    tasks.orders_reconcile_pending()
    again = place(customer, cart, key=key)

    assert (again.pk, again.status) == (order.pk, Order.Status.PAID)
    assert (processor.charge_requests, processor.charges_made) == (1, 1)
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1
    assert stock(book) == 3


def test_reconciling_cancels_and_restocks_an_order_the_provider_never_charged(customer, cart, book, processor):
    order = pending_order(customer, cart, processor, behaviour="error")

    report = tasks.orders_reconcile_pending()

    order.refresh_from_db()
    assert report == {"paid": 0, "cancelled": 1, "unknown": 0, "flagged": 0}
    assert (order.status, order.payment_declined) == (Order.Status.CANCELLED, True)
    assert order.payment_message == "The payment did not go through."
    assert stock(book) == 5
    assert quantities(cart) == {book.pk: 2}
    assert processor.charges_made == 0


def test_a_retry_after_the_order_was_found_uncharged_is_told_it_was_not_charged(customer, cart, book, processor):
    key = uuid.uuid4()
    processor.behaviour = "error"
    place(customer, cart, key=key)
    processor.behaviour = "normal"
    tasks.orders_reconcile_pending()

    with pytest.raises(services.CartError) as refused:
        place(customer, cart, key=key)

    assert refused.value.message == (
        "Payment failed: The payment did not go through. You have not been charged; your cart is unchanged."
    )
    assert processor.charges_made == 0


def test_an_unanswered_lookup_leaves_the_order_pending_and_flags_it_after_the_bound(
    customer, cart, book, processor, settings
):
    settings.CART_PAYMENT_RECONCILE_MAX_CHECKS = 3
    settings.CART_PAYMENT_BREAKER_FAILURES = 100  # an open breaker skips checks (tests/resilience)
    order = pending_order(customer, cart, processor)
    processor.behaviour = "lookup_error"

    reports = [tasks.orders_reconcile_pending() for _ in range(3)]

    order.refresh_from_db()
    assert [report["unknown"] for report in reports] == [1, 1, 1]
    assert [report["flagged"] for report in reports] == [0, 0, 1]
    assert (order.status, order.payment_checks, order.needs_attention) == (Order.Status.PENDING, 3, True)
    assert stock(book) == 3

    processor.behaviour = "normal"  # the provider answers again: the flagged order settles too
    assert tasks.orders_reconcile_pending()["paid"] == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_reconciling_waits_until_the_last_try_is_old_enough(customer, cart, book, processor, settings):
    order = pending_order(customer, cart, processor)
    settings.CART_PAYMENT_RECONCILE_AFTER_SECONDS = 600

    assert tasks.orders_reconcile_pending() == {"paid": 0, "cancelled": 0, "unknown": 0, "flagged": 0}
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert processor.lookup_requests == 0


def test_reconciling_skips_an_order_whose_charge_is_in_flight(customer, cart, book, processor):
    order = pending_order(customer, cart, processor)
    Order.objects.filter(pk=order.pk).update(payment_claimed_until=timezone.now() + timedelta(minutes=1))

    assert tasks.orders_reconcile_pending()["paid"] == 0
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert processor.lookup_requests == 0


def test_reconciling_is_safe_to_run_twice(customer, cart, book, processor):
    order = pending_order(customer, cart, processor, behaviour="error")

    tasks.orders_reconcile_pending()
    tasks.orders_reconcile_pending()

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert stock(book) == 5


def test_the_order_page_says_the_payment_is_being_confirmed(customer_client, customer, cart, book, processor):
    order = pending_order(customer, cart, processor)

    html = customer_client.get(order.get_absolute_url()).content.decode()

    assert "Payment being confirmed" in html
    assert "You will not be charged twice" in html


# --- orders_cancel_abandoned -------------------------------------------------------------------


@pytest.fixture
def abandoned(customer):
    """An order left "placed" two hours ago (the process died before or during its payment)."""
    order = OrderFactory(user=customer, status="placed", total=Decimal("30.00"), payment_provider="", card_last4="")
    line = OrderLineFactory(order=order, book=BookFactory(stock=1), quantity=3, unit_price=Decimal("10.00"))
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=2))
    return order, line.book


def test_the_abandoned_job_cancels_and_restocks_an_order_the_provider_never_charged(abandoned):
    order, book = abandoned

    assert tasks.orders_cancel_abandoned() == 1

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert stock(book) == 4


def test_the_abandoned_job_leaves_an_order_the_provider_cannot_answer_for(abandoned, processor):
    order, book = abandoned
    processor.behaviour = "lookup_error"

    assert tasks.orders_cancel_abandoned() == 0

    assert processor.lookup_requests == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING  # reconciliation takes over
    assert stock(book) == 1


def test_the_abandoned_job_leaves_recent_and_paid_orders_alone(customer):
    recent = OrderFactory(user=customer, status="placed")
    paid = OrderFactory(user=customer, status="paid")
    Order.objects.filter(pk=paid.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert tasks.orders_cancel_abandoned() == 0

    assert Order.objects.get(pk=recent.pk).status == Order.Status.PLACED
    assert Order.objects.get(pk=paid.pk).status == Order.Status.PAID


def test_the_jobs_are_celery_tasks_under_the_names_beat_schedules():
    assert tasks.orders_reconcile_pending.name == "cart.tasks.orders_reconcile_pending"
    assert tasks.orders_cancel_abandoned.name == "cart.tasks.orders_cancel_abandoned"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reconciles_a_pending_order(customer, cart, book, processor, settings):
    order = pending_order(customer, cart, processor)
    environment = {
        "CART_PAYMENT_PROVIDER": settings.CART_PAYMENT_PROVIDER,
        "CART_PAYMENT_API_URL": settings.CART_PAYMENT_API_URL,
        "CART_PAYMENT_API_KEY": settings.CART_PAYMENT_API_KEY,
        "CART_PAYMENT_RECONCILE_AFTER_SECONDS": "0",
    }

    with real_worker("reconcile", environment) as worker:
        tasks.orders_reconcile_pending.delay()
        deadline = timezone.now() + timedelta(seconds=20)
        while Order.objects.get(pk=order.pk).status == Order.Status.PENDING and timezone.now() < deadline:
            worker.assert_alive()
            time.sleep(0.1)

    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    assert processor.charges_made == 1
    assert stock(book) == 3
