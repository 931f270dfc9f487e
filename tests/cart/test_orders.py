"""Order history and detail pages (ownership), cancelling and shipping, and orders in the admin."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.utils import timezone

from cart import services
from cart.models import ORDER_REFERENCE_PATTERN, Order, order_reference_new
from cart.payments import CardDetails, TestCardProvider
from catalog.models import Inventory
from tests.factories import BookFactory, OrderFactory, OrderLineFactory, UserFactory

pytestmark = pytest.mark.django_db


def stock(book) -> int:
    return Inventory.objects.get(book=book).stock_on_hand


@pytest.fixture
def order(customer):
    """Alice's paid order: 2 copies of “Dune” at $10.00 (8 left in stock)."""
    order = OrderFactory(user=customer, total=Decimal("20.00"))
    OrderLineFactory(order=order, book=BookFactory(title="Dune", price=Decimal("10.00"), stock=8), quantity=2)
    return order


# --- History and detail --------------------------------------------------------------------------


def test_order_history_lists_the_customers_orders_newest_first(customer_client, customer, other_customer, order):
    newer = OrderFactory(user=customer, total=Decimal("5.00"))
    OrderFactory(user=other_customer)
    OrderFactory(user=customer, status="cancelled", payment_declined=True)

    response = customer_client.get("/orders/")

    assert [listed.pk for listed in response.context["page"].object_list] == [newer.pk, order.pk]
    assert f'<a href="/orders/{order.reference}/">Order {order.reference}</a>' in response.content.decode()


def test_order_history_is_paginated(customer_client, customer, settings):
    settings.CART_ORDERS_PAGE_SIZE = 2
    OrderFactory.create_batch(3, user=customer)

    assert len(customer_client.get("/orders/?page=2").context["page"].object_list) == 1
    assert customer_client.get("/orders/?page=3").status_code == 404
    assert customer_client.get("/orders/?page=abc").status_code == 404


def test_order_detail_writes_the_address_as_the_country_expects(customer_client, customer):
    order = OrderFactory(
        user=customer, shipping_city="London", shipping_region="Greater London", shipping_postal_code="N1 9GU"
    )

    html = customer_client.get(order.get_absolute_url()).content.decode()

    assert (
        '<address class="address">Alice Reader<br>1 Library Lane<br>London<br>Greater London<br>N1 9GU<br>'
        "United Kingdom</address>"
    ) in html


def test_order_detail_shows_lines_address_and_payment(customer_client, order):
    html = customer_client.get(f"/orders/{order.reference}/").content.decode()

    assert f"Order {order.reference}" in html
    assert ">Dune</a>" in html
    assert "$20.00" in html
    assert "1 Library Lane" in html
    assert "Card ending in 4242" in html


@pytest.mark.parametrize("order_id", ["OTHER", "999999", "0", str(2**63), str(10**30)])
def test_nobody_sees_another_customers_order(customer_client, other_customer, order_id):
    other = OrderFactory(user=other_customer)
    order_id = str(other.pk) if order_id == "OTHER" else order_id

    assert customer_client.get(f"/orders/{order_id}/").status_code == 404


def test_order_pages_need_a_logged_in_customer(client, order):
    assert client.get(f"/orders/{order.reference}/").url == f"/accounts/login/?next=/orders/{order.reference}/"
    assert client.get(f"/orders/{order.pk}/").url == f"/accounts/login/?next=/orders/{order.pk}/"
    assert client.get("/orders/").url == "/accounts/login/?next=/orders/"


def test_the_order_list_query_count_is_fixed(customer_client, customer, django_assert_num_queries):
    OrderFactory.create_batch(5, user=customer)
    customer_client.get("/orders/")

    # The customer, the count and the page.
    with django_assert_num_queries(3):
        customer_client.get("/orders/")


def test_the_order_detail_query_count_is_fixed(customer_client, order, django_assert_num_queries):
    OrderLineFactory.create_batch(4, order=order)
    customer_client.get(order.get_absolute_url())

    # The customer, the order, its lines.
    with django_assert_num_queries(3):
        customer_client.get(order.get_absolute_url())


# --- Order references ----------------------------------------------------------------------------


def test_an_order_is_known_to_its_customer_by_a_random_reference_not_its_id(customer_client, order):
    html = customer_client.get(order.get_absolute_url()).content.decode()

    assert re.fullmatch(rf"{ORDER_REFERENCE_PATTERN}", order.reference)
    assert order.get_absolute_url() == f"/orders/{order.reference}/"
    assert f'<h1 class="page-head__title">Order {order.reference}</h1>' in html
    assert f"#{order.pk}" not in html


def test_references_are_unique_and_unambiguous():
    references = {order_reference_new() for _ in range(2000)}

    assert len(references) == 2000
    assert not set("".join(references)) & set("01ILOU")


def test_an_order_pages_old_address_redirects_to_its_reference(customer_client, order):
    response = customer_client.get(f"/orders/{order.pk}/")

    assert (response.status_code, response.url) == (301, f"/orders/{order.reference}/")


@pytest.mark.parametrize("reference", ["OTHER", "CS-2222-2222", "cs-2222-2222", "CS-0000-0000", "CS-22222222"])
def test_nobody_sees_another_customers_order_by_its_reference(customer_client, other_customer, reference):
    other = OrderFactory(user=other_customer)
    reference = other.reference if reference == "OTHER" else reference

    assert customer_client.get(f"/orders/{reference}/").status_code == 404


# --- Cancelling and shipping -------------------------------------------------------------------------


def test_cancelling_puts_the_stock_back_exactly_once(order):
    book = order.lines.get().book

    first = services.order_cancel(order=order)
    second = services.order_cancel(order=Order.objects.get(pk=order.pk))

    assert (first, second) == (True, False)
    assert stock(book) == 10
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert order.cancelled_at is not None


def test_a_shipped_order_cannot_be_cancelled(order):
    book = order.lines.get().book
    assert services.order_mark_shipped(order=order)

    assert not services.order_cancel(order=order)

    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    assert stock(book) == 8


def test_only_paid_orders_can_be_shipped(customer):
    placed = OrderFactory(user=customer, status="placed")

    assert not services.order_mark_shipped(order=placed)
    assert Order.objects.get(pk=placed.pk).status == Order.Status.PLACED


def test_cancelling_restocks_lines_whose_book_is_gone(order):
    OrderLineFactory(order=order, book=None, title="Removed", isbn13="9780000000002", unit_price=Decimal("1.00"))

    assert services.order_cancel(order=order)
    assert stock(order.lines.exclude(book=None).get().book) == 10


def test_orders_stuck_before_payment_are_cancelled_and_restocked(customer):
    stuck = OrderFactory(user=customer, status="placed")
    line = OrderLineFactory(order=stuck, book=BookFactory(stock=1), quantity=3)
    fresh = OrderFactory(user=customer, status="placed")
    Order.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))

    cancelled = services.orders_cancel_abandoned(older_than=timedelta(hours=1))

    assert cancelled == 1
    assert Order.objects.get(pk=stuck.pk).status == Order.Status.CANCELLED
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PLACED
    assert stock(line.book) == 4


def test_the_abandoned_job_does_not_cancel_an_order_the_provider_charged(customer):
    stuck = OrderFactory(user=customer, status="placed", total=Decimal("30.00"))
    line = OrderLineFactory(order=stuck, book=BookFactory(stock=1), quantity=3)
    Order.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=2))
    # The process died after the provider took the money and before the order said so.
    TestCardProvider().charge(
        amount=stuck.total,
        currency="USD",
        card=CardDetails(number="4242424242424242", expiry_month=12, expiry_year=2040, cvc="123"),
        idempotency_key=f"cloudshelf-order-{stuck.pk}",
        description="",
    )

    services.orders_cancel_abandoned(older_than=timedelta(hours=1))

    stuck.refresh_from_db()
    assert (stuck.status, stuck.payment_reference[:5]) == (Order.Status.PAID, "test_")
    assert stock(line.book) == 1


def test_cancelling_an_order_read_as_placed_that_was_paid_since_changes_nothing(customer):
    placed = OrderFactory(user=customer, status="placed")  # what the caller read
    line = OrderLineFactory(order=placed, book=BookFactory(stock=1), quantity=3)
    Order.objects.filter(pk=placed.pk).update(status=Order.Status.PAID)

    assert services.order_cancel(order=placed) is False

    assert Order.objects.get(pk=placed.pk).status == Order.Status.PAID
    assert stock(line.book) == 1


# --- Admin ------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


def test_the_order_changelist_and_change_page_load(staff_client, order):
    assert staff_client.get("/admin/cart/order/").status_code == 200
    assert staff_client.get(f"/admin/cart/order/{order.pk}/change/").status_code == 200


def test_the_admin_cancel_action_restocks_once(staff_client, order):
    book = order.lines.get().book
    data = {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [order.pk]}

    staff_client.post("/admin/cart/order/", data)
    staff_client.post("/admin/cart/order/", data)

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert stock(book) == 10


def test_the_admin_ship_action_ships_paid_orders_only(staff_client, order, customer):
    placed = OrderFactory(user=customer, status="placed")

    staff_client.post("/admin/cart/order/", {"action": "mark_shipped", ACTION_CHECKBOX_NAME: [order.pk, placed.pk]})

    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED
    assert Order.objects.get(pk=placed.pk).status == Order.Status.PLACED


def test_changing_the_status_to_cancelled_in_the_admin_form_restocks(staff_client, order):
    book = order.lines.get().book

    staff_client.post(
        f"/admin/cart/order/{order.pk}/change/",
        {
            "status": "cancelled",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": order.lines.get().pk,
            "lines-0-order": order.pk,
        },
    )

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert stock(book) == 10


def test_the_admin_form_refuses_a_status_the_services_refuse(staff_client, order):
    services.order_mark_shipped(order=order)

    response = staff_client.post(
        f"/admin/cart/order/{order.pk}/change/",
        {
            "status": "placed",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "lines-0-id": order.lines.get().pk,
            "lines-0-order": order.pk,
        },
        follow=True,
    )

    assert "cannot go from “shipped” to “placed”" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == Order.Status.SHIPPED


def test_orders_cannot_be_added_or_deleted_in_the_admin(staff_client, order):
    assert staff_client.get("/admin/cart/order/add/").status_code == 403
    assert staff_client.get(f"/admin/cart/order/{order.pk}/delete/").status_code == 403


@pytest.fixture
def pending(customer):
    """An order whose charge had no answer; the test provider did charge its key."""
    order = OrderFactory(user=customer, status="pending", total=Decimal("20.00"), payment_attempts=1)
    OrderLineFactory(order=order, book=BookFactory(stock=8), quantity=2)
    Order.objects.filter(pk=order.pk).update(payment_claimed_until=timezone.now() - timedelta(minutes=5))
    return order


def test_staff_can_ask_the_provider_about_a_pending_order(staff_client, pending):
    TestCardProvider().charge(
        amount=pending.total,
        currency="USD",
        card=CardDetails(number="4242424242424242", expiry_month=12, expiry_year=2040, cvc="123"),
        idempotency_key=f"cloudshelf-order-{pending.pk}",
        description="",
    )

    response = staff_client.post(
        "/admin/cart/order/", {"action": "check_payments", ACTION_CHECKBOX_NAME: [pending.pk]}, follow=True
    )

    assert "Paid: 1; cancelled as not charged: 0; still unknown: 0" in response.content.decode()
    assert Order.objects.get(pk=pending.pk).status == Order.Status.PAID


def test_flagged_orders_can_be_listed_in_the_admin(staff_client, pending):
    Order.objects.filter(pk=pending.pk).update(needs_attention=True)

    response = staff_client.get("/admin/cart/order/?needs_attention__exact=1")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [Order.objects.get(pk=pending.pk)]


def test_staff_cannot_cancel_a_pending_order_while_its_charge_is_in_flight(staff_client, pending):
    book = pending.lines.get().book
    Order.objects.filter(pk=pending.pk).update(payment_claimed_until=timezone.now() + timedelta(minutes=1))

    staff_client.post("/admin/cart/order/", {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [pending.pk]})

    assert Order.objects.get(pk=pending.pk).status == Order.Status.PENDING
    assert stock(book) == 8

    Order.objects.filter(pk=pending.pk).update(payment_claimed_until=timezone.now())  # the try has ended
    staff_client.post("/admin/cart/order/", {"action": "cancel_orders", ACTION_CHECKBOX_NAME: [pending.pk]})

    assert Order.objects.get(pk=pending.pk).status == Order.Status.CANCELLED
    assert stock(book) == 10
