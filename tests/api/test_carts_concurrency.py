"""One Idempotency-Key sent twice at once: one order, and the second request gets a clear answer.

Real threads, each with its own database connection and test client, against Postgres and
Redis (transactional tests: each request commits). Where the race needs both requests past
the "has this key ordered?" check before either inserts, a barrier holds them there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from cart.models import Order
from partners import services
from partners.models import PartnerCart
from tests.api.conftest import key_client
from tests.api.test_carts_api import ADDRESS, add, new_cart
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db(transaction=True)


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at once, each in its own thread (and database connection); their results in order."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            start.wait(10)
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - surfaced by the assertions, not lost in the thread
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def place(raw_key: str, cart_id: str, key: str) -> Callable[[], Any]:
    def call() -> Any:
        return key_client(raw_key).post(
            f"/api/v1/carts/{cart_id}/order/",
            {"shipping_address": ADDRESS},
            content_type="application/json",
            headers={"Idempotency-Key": key},
        )

    return call


@pytest.fixture
def both_past_the_key_check(monkeypatch):
    """Hold each placement after its "has this key ordered?" check until both have made it."""
    barrier = threading.Barrier(2)
    real_order_place = services.order_place

    def order_place_when_both_arrive(**kwargs: Any) -> Order:
        barrier.wait(10)
        return real_order_place(**kwargs)

    monkeypatch.setattr(services, "order_place", order_place_when_both_arrive)


def test_one_key_on_two_carts_at_once_orders_one_and_refuses_the_other_with_409(partner_key, both_past_the_key_check):
    api = key_client(partner_key.raw_key)
    book = BookFactory(price=Decimal("10.00"), stock=10)
    first_cart, second_cart = new_cart(api), new_cart(api)
    add(api, first_cart, book.pk, 2)
    add(api, second_cart, book.pk, 3)

    answers = in_threads(
        place(partner_key.raw_key, first_cart, "same-key"), place(partner_key.raw_key, second_cart, "same-key")
    )

    assert sorted(answer.status_code for answer in answers) == [201, 409], [a.content for a in answers]
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert refused.json()["code"] == "idempotency_key_reused"
    (order,) = Order.objects.all()
    assert PartnerCart.objects.filter(order=order).count() == 1
    (unordered,) = PartnerCart.objects.filter(order__isnull=True)
    assert api.get(f"/api/v1/carts/{unordered.pk}/").json()["item_count"] == (5 - order.lines.get().quantity)
    book.inventory.refresh_from_db()
    assert book.inventory.stock_on_hand == 10 - order.lines.get().quantity  # stock taken once


def test_one_key_on_one_cart_twice_at_once_places_one_order_and_replays_it(partner_key):
    api = key_client(partner_key.raw_key)
    book = BookFactory(price=Decimal("10.00"), stock=10)
    cart_id = new_cart(api)
    add(api, cart_id, book.pk, 2)

    answers = in_threads(place(partner_key.raw_key, cart_id, "k-1"), place(partner_key.raw_key, cart_id, "k-1"))

    assert sorted(answer.status_code for answer in answers) == [200, 201], [a.content for a in answers]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert Order.objects.count() == 1
    book.inventory.refresh_from_db()
    assert book.inventory.stock_on_hand == 8
