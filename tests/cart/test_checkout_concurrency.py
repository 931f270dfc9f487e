"""Concurrent checkouts against real Postgres: fifty customers race for ten copies, and one
customer's retried submits race each other. Threads start together at a barrier, each with
its own database connection (closed when it ends) and its own Redis connection."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction
from django.db.models import Sum

from cart import services
from cart.models import Order, OrderLine
from cart.services import CartError
from cart.store import customer_cart
from catalog.models import Inventory
from tests.cart.helpers import ADDRESS, APPROVED_CARD, quantities
from tests.factories import BookFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUSTOMERS = 50


@pytest.fixture(autouse=True)
def _a_connection_per_thread(database_pool_for_threads):
    database_pool_for_threads(CUSTOMERS)


def run_together(count, work):
    """Run ``work(index)`` in ``count`` threads released at the same instant; return what each returned or raised."""
    barrier = threading.Barrier(count)

    def one(index):
        try:
            barrier.wait(timeout=10)
            try:
                return work(index)
            except CartError as error:
                return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_fifty_checkouts_of_a_book_with_ten_in_stock_sell_exactly_ten():
    book = BookFactory(title="Dune", stock=10)
    customers = UserFactory.create_batch(CUSTOMERS)
    for customer in customers:
        services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk)

    outcomes = run_together(
        CUSTOMERS,
        lambda index: services.order_place(
            user=customers[index],
            cart=customer_cart(customers[index].pk),
            address=ADDRESS,
            card=APPROVED_CARD,
            idempotency_key=uuid.uuid4(),
        ),
    )

    orders = [outcome for outcome in outcomes if isinstance(outcome, Order)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, CartError)]
    assert (len(orders), len(refusals)) == (10, 40)
    assert {refusal.message for refusal in refusals} == {
        "We could not place your order: “Dune” is out of stock. Please check your cart."
    }
    assert Inventory.objects.get(book=book).stock_on_hand == 0
    assert OrderLine.objects.filter(order__status=Order.Status.PAID).aggregate(sold=Sum("quantity")) == {"sold": 10}
    assert Order.objects.count() == 10
    # The ten buyers' carts are empty; the forty others still hold their copy.
    assert sum(bool(quantities(customer_cart(customer.pk))) for customer in customers) == 40


def test_concurrent_submits_with_one_key_make_one_order():
    book = BookFactory(stock=10)
    customer = UserFactory()
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    key = uuid.uuid4()

    outcomes = run_together(
        10,
        lambda _: services.order_place(
            user=customer, cart=cart, address=ADDRESS, card=APPROVED_CARD, idempotency_key=key
        ),
    )

    assert all(isinstance(outcome, Order) for outcome in outcomes), outcomes
    assert {outcome.pk for outcome in outcomes} == {Order.objects.get().pk}
    assert Order.objects.get().status == Order.Status.PAID
    assert Inventory.objects.get(book=book).stock_on_hand == 8
    assert quantities(cart) == {}


def test_racing_cancels_restock_once():
    book = BookFactory(stock=10)
    customer = UserFactory()
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=3)
    order = services.order_place(
        user=customer,
        cart=customer_cart(customer.pk),
        address=ADDRESS,
        card=APPROVED_CARD,
        idempotency_key=uuid.uuid4(),
    )

    outcomes = run_together(10, lambda _: services.order_cancel(order=Order.objects.get(pk=order.pk)))

    assert outcomes.count(True) == 1
    assert Inventory.objects.get(book=book).stock_on_hand == 10


def test_no_transaction_holds_the_order_or_the_stock_while_the_card_is_charged(processor, settings):
    """A slow provider must not keep row locks (or a transaction) open: the charge runs outside any."""
    settings.CART_PAYMENT_TIMEOUT = 10  # the charge is held until the test has looked
    book = BookFactory(stock=10)
    customer = UserFactory()
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=2)
    processor.behaviour = "hold"

    with ThreadPoolExecutor(max_workers=1) as pool:
        placing = pool.submit(
            run_together,
            1,
            lambda _: services.order_place(
                user=customer,
                cart=customer_cart(customer.pk),
                address=ADDRESS,
                card=APPROVED_CARD,
                idempotency_key=uuid.uuid4(),
            ),
        )
        assert processor.charge_received.wait(timeout=10), "the charge never reached the provider"
        try:
            with transaction.atomic():  # NOWAIT: a lock held by the placing thread fails at once
                order = Order.objects.select_for_update(nowait=True).get()
                list(Inventory.objects.select_for_update(nowait=True).filter(book=book))
            idle_in_transaction = _sessions_idle_in_transaction()
        finally:
            processor.release.set()
        (outcome,) = placing.result(timeout=30)

    assert idle_in_transaction == 0
    assert order.status == "pending"  # the charge is in flight, and everyone can see it
    assert outcome.status == Order.Status.PAID, outcome
    assert Inventory.objects.get(book=book).stock_on_hand == 8


def test_a_retry_while_the_first_charge_is_in_flight_does_not_charge_again(processor, settings):
    settings.CART_PAYMENT_TIMEOUT = 10  # the first charge is held until the retry has run
    book = BookFactory(stock=10)
    customer = UserFactory()
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    key = uuid.uuid4()
    processor.behaviour = "hold"

    def submit(_):
        return services.order_place(user=customer, cart=cart, address=ADDRESS, card=APPROVED_CARD, idempotency_key=key)

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(run_together, 1, submit)
        assert processor.charge_received.wait(timeout=10), "the charge never reached the provider"
        try:
            (retry,) = run_together(1, submit)  # while the first waits for the provider
        finally:
            processor.release.set()
        (paid,) = first.result(timeout=30)

    assert retry.status == "pending", retry
    assert (paid.pk, paid.status) == (retry.pk, Order.Status.PAID), paid
    assert (processor.charge_requests, processor.charges_made) == (1, 1)
    assert Inventory.objects.get(book=book).stock_on_hand == 8


def _sessions_idle_in_transaction() -> int:
    """Other connections to the test database sitting in an open transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%%' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]
