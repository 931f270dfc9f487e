"""Concurrent cart writes against real Redis: threads released together by a barrier, each
with its own Postgres connection and its own Redis connection from the pool."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from cart import services
from cart.store import anonymous_cart, customer_cart
from tests.cart.helpers import quantities
from tests.factories import BookFactory, UserFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 50


@pytest.fixture(autouse=True)
def _a_connection_per_thread(database_pool_for_threads):
    database_pool_for_threads(CLIENTS)


def run_together(count, work):
    """Run ``work(index)`` in ``count`` threads that start at the same instant; return the results."""
    barrier = threading.Barrier(count)

    def one(index):
        try:
            barrier.wait(timeout=10)
            return work(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_fifty_concurrent_adds_of_one_end_at_fifty(settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 100
    book = BookFactory(stock=100)
    cart = customer_cart(UserFactory().pk)

    changes = run_together(CLIENTS, lambda _: services.cart_add_item(cart=cart, book_id=book.pk, quantity=1))

    assert quantities(cart) == {book.pk: CLIENTS}
    # Every add saw a different quantity: the writes were applied one after another.
    assert sorted(change.quantity for change in changes) == list(range(1, CLIENTS + 1))


def test_concurrent_adds_never_pass_the_stock(settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 100
    book = BookFactory(stock=10)
    cart = customer_cart(UserFactory().pk)

    def add_one(_):
        try:
            return services.cart_add_item(cart=cart, book_id=book.pk, quantity=1)
        except services.CartError as error:
            return error.code

    outcomes = run_together(CLIENTS, add_one)

    assert quantities(cart) == {book.pk: 10}
    assert outcomes.count("not_enough_stock") == CLIENTS - 10


def test_adds_racing_a_log_in_merge_are_all_kept():
    books = BookFactory.create_batch(10, stock=100)
    user = UserFactory()
    anonymous, customer = anonymous_cart("m" * 32), customer_cart(user.pk)
    for book in books[:5]:
        services.cart_add_item(cart=anonymous, book_id=book.pk)

    def work(index):
        if index == 0:
            return services.cart_merge(source=anonymous, target=customer)
        return services.cart_add_item(cart=customer, book_id=books[5 + index % 5].pk, quantity=1)

    run_together(11, work)

    assert quantities(customer) == {book.pk: 1 for book in books[:5]} | {book.pk: 2 for book in books[5:]}
    assert quantities(anonymous) == {}
