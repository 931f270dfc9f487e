"""Checkout: address → review → place order, payment, idempotency and every refusal."""

import re
import uuid
from decimal import Decimal

import pytest

from cart import services
from cart.models import Order
from cart.services import CartError
from cart.store import customer_cart
from catalog import services as catalog_services
from catalog.models import Inventory
from tests.cart.helpers import ADDRESS, ADDRESS_FORM, APPROVED_CARD, DECLINED_CARD, card_form, hidden_value, quantities
from tests.factories import BookFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cart(customer):
    return customer_cart(customer.pk)


@pytest.fixture
def books(cart):
    """Two books in the customer's cart: 2 x $10.00 and 1 x $4.50."""
    dune = BookFactory(title="Dune", price=Decimal("10.00"), stock=5)
    emma = BookFactory(title="Emma", price=Decimal("4.50"), stock=5)
    services.cart_add_item(cart=cart, book_id=dune.pk, quantity=2)
    services.cart_add_item(cart=cart, book_id=emma.pk, quantity=1)
    return dune, emma


def stock(book) -> int:
    return Inventory.objects.get(book=book).stock_on_hand


def place(customer, cart, **overrides):
    arguments = {
        "user": customer,
        "cart": cart,
        "address": ADDRESS,
        "card": APPROVED_CARD,
        "idempotency_key": uuid.uuid4(),
    } | overrides
    return services.order_place(**arguments)


# --- The service ---------------------------------------------------------------------------------


def test_placing_an_order_takes_stock_records_prices_and_is_paid(
    customer, cart, books, django_capture_on_commit_callbacks
):
    dune, emma = books

    with django_capture_on_commit_callbacks(execute=True):
        order = place(customer, cart, expected_total=Decimal("24.50"))

    order.refresh_from_db()
    assert (order.status, order.total, order.currency) == (Order.Status.PAID, Decimal("24.50"), "USD")
    assert (order.card_last4, order.payment_provider) == ("4242", "test")
    assert order.payment_reference.startswith("test_")
    assert order.paid_at is not None
    assert [(line.title, line.unit_price, line.quantity) for line in order.lines.all()] == [
        ("Dune", Decimal("10.00"), 2),
        ("Emma", Decimal("4.50"), 1),
    ]
    assert (stock(dune), stock(emma)) == (3, 4)
    assert quantities(cart) == {}


def test_the_order_keeps_the_price_of_the_moment_it_was_placed(customer, cart, books):
    dune, _ = books
    order = place(customer, cart)

    dune.price = Decimal("99.00")
    dune.save()

    assert order.lines.get(book=dune).unit_price == Decimal("10.00")


def test_no_card_number_is_stored(customer, cart, books):
    order = place(customer, cart)

    stored = " ".join(str(value) for value in Order.objects.filter(pk=order.pk).values().get().values())
    assert "4242424242424242" not in stored
    assert "123" not in stored.split()  # nor the security code


def test_the_cart_keeps_what_was_added_while_the_order_was_placed(
    customer, cart, books, django_capture_on_commit_callbacks
):
    dune, _ = books
    late = BookFactory()

    with django_capture_on_commit_callbacks() as callbacks:
        place(customer, cart)
    services.cart_add_item(cart=cart, book_id=late.pk)
    services.cart_add_item(cart=cart, book_id=dune.pk)
    for callback in callbacks:
        callback()

    assert quantities(cart) == {late.pk: 1, dune.pk: 1}


def test_the_cart_is_emptied_only_after_the_commit(customer, cart, books, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        place(customer, cart)
        assert quantities(cart) == {books[0].pk: 2, books[1].pk: 1}

    for callback in callbacks:
        callback()
    assert quantities(cart) == {}


def test_a_reference_another_order_holds_is_drawn_again(customer, cart, books, monkeypatch):
    taken = OrderFactory(reference="CS-2222-2222")
    draws = iter(["CS-2222-2222", "CS-3333-3333"])
    monkeypatch.setattr(services, "order_reference_new", lambda: next(draws))

    order = place(customer, cart)

    assert (order.reference, taken.reference) == ("CS-3333-3333", "CS-2222-2222")
    assert Order.objects.get(pk=order.pk).lines.count() == 2
    assert stock(books[0]) == 3


def test_the_same_idempotency_key_twice_returns_the_same_order(customer, cart, books):
    dune, _ = books
    key = uuid.uuid4()

    first = place(customer, cart, idempotency_key=key)
    second = place(customer, cart, idempotency_key=key)

    assert first.pk == second.pk
    assert Order.objects.count() == 1
    assert stock(dune) == 3


def test_idempotency_keys_are_per_customer(customer, other_customer, cart, books):
    key = uuid.uuid4()
    services.cart_add_item(cart=customer_cart(other_customer.pk), book_id=books[0].pk)

    mine = place(customer, cart, idempotency_key=key)
    theirs = place(other_customer, customer_cart(other_customer.pk), idempotency_key=key)

    assert mine.pk != theirs.pk
    assert (mine.user, theirs.user) == (customer, other_customer)


def test_a_declined_card_pays_nothing_restores_stock_and_keeps_the_cart(customer, cart, books):
    dune, emma = books

    with pytest.raises(CartError) as refused:
        place(customer, cart, card=DECLINED_CARD)

    assert refused.value.code == "payment_declined"
    assert refused.value.message == (
        "Payment failed: Your card was declined. You have not been charged; your cart is unchanged."
    )
    assert not Order.objects.exclude(status=Order.Status.CANCELLED).exists()
    declined = Order.objects.get()
    assert (declined.payment_declined, declined.paid_at, declined.card_last4) == (True, None, "0002")
    assert (stock(dune), stock(emma)) == (5, 5)
    assert quantities(cart) == {dune.pk: 2, emma.pk: 1}


def test_a_declined_order_replayed_with_its_key_is_declined_again_without_a_second_charge(customer, cart, books):
    key = uuid.uuid4()
    with pytest.raises(CartError):
        place(customer, cart, card=DECLINED_CARD, idempotency_key=key)

    with pytest.raises(CartError) as again:
        place(customer, cart, card=APPROVED_CARD, idempotency_key=key)

    assert again.value.code == "payment_declined"
    assert Order.objects.count() == 1
    assert stock(books[0]) == 5


def test_a_charge_that_times_out_after_charging_is_not_a_decline(customer, cart, books, processor):
    processor.behaviour = "stall_after_charge"

    order = place(customer, cart)

    order.refresh_from_db()
    assert (order.status, order.payment_declined, order.cancelled_at) == ("pending", False, None)
    assert processor.charges_made == 1
    assert (stock(books[0]), stock(books[1])) == (3, 4)  # reserved, not put back for someone else
    assert quantities(cart) == {books[0].pk: 2, books[1].pk: 1}


@pytest.mark.parametrize(("stock_left", "reason"), [(0, "“Dune” is out of stock."), (1, "only 1 of “Dune” are left.")])
def test_not_enough_stock_refuses_the_order_and_changes_nothing(customer, cart, books, stock_left, reason):
    dune, emma = books
    Inventory.objects.filter(book=dune).update(stock_on_hand=stock_left)

    with pytest.raises(CartError) as refused:
        place(customer, cart)

    assert refused.value.code == "insufficient_stock"
    assert refused.value.message == f"We could not place your order: {reason} Please check your cart."
    assert Order.objects.count() == 0
    assert (stock(dune), stock(emma)) == (stock_left, 5)
    assert quantities(cart) == {dune.pk: 2, emma.pk: 1}


def test_a_price_change_since_the_review_refuses_the_order(customer, cart, books):
    dune, _ = books
    dune.price = Decimal("11.00")
    dune.save()

    with pytest.raises(CartError) as refused:
        place(customer, cart, expected_total=Decimal("24.50"))

    assert refused.value.code == "price_changed"
    assert "the total is now 26.50 USD" in refused.value.message
    assert Order.objects.count() == 0
    assert stock(dune) == 5


def test_an_empty_cart_cannot_be_ordered(customer, cart):
    with pytest.raises(CartError, match="Your cart is empty"):
        place(customer, cart)

    assert Order.objects.count() == 0


def test_mixed_currencies_are_refused(customer, cart):
    services.cart_add_item(cart=cart, book_id=BookFactory(currency="USD").pk)
    services.cart_add_item(cart=cart, book_id=BookFactory(currency="EUR").pk)

    with pytest.raises(CartError, match="mixes prices in EUR and USD"):
        place(customer, cart)

    assert Order.objects.count() == 0


def test_a_book_dropped_from_the_catalog_refuses_the_order(customer, cart, books):
    books[1].delete()

    with pytest.raises(CartError, match="no longer sold"):
        place(customer, cart)

    assert Order.objects.count() == 0
    assert stock(books[0]) == 5


# --- The pages -----------------------------------------------------------------------------------


def test_checkout_needs_a_logged_in_customer(client):
    for path in ("/checkout/", "/checkout/review/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={path}"
    assert client.post("/checkout/place/").url == "/accounts/login/?next=/checkout/place/"


def test_the_address_step_keeps_the_address_for_the_review(customer_client, books):
    response = customer_client.post("/checkout/", ADDRESS_FORM)

    assert response.url == "/checkout/review/"
    assert customer_client.session["checkout_address"] == ADDRESS_FORM


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "", "This field is required."),
        ("city", "Book\x1btown", "Use letters, numbers and punctuation only."),
        ("city", "Book\x00town", "Null characters are not allowed."),
        ("country", "XX", "Select a valid choice."),
        ("postal_code", "1" * 21, "Ensure this value has at most 20 characters"),
    ],
)
def test_the_address_step_refuses_bad_input(customer_client, books, field, value, error):
    response = customer_client.post("/checkout/", ADDRESS_FORM | {field: value})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert "checkout_address" not in customer_client.session


def test_the_address_is_prefilled_from_the_last_order(customer_client, customer, books):
    OrderFactory(user=customer, shipping_name="Alice from Last Time")

    assert 'value="Alice from Last Time"' in customer_client.get("/checkout/").content.decode()


def test_the_review_step_needs_an_address(customer_client, books):
    assert customer_client.get("/checkout/review/").url == "/checkout/"


def test_the_review_step_of_an_empty_cart_goes_back_to_the_cart(customer_client):
    customer_client.post("/checkout/", ADDRESS_FORM)

    assert customer_client.get("/checkout/review/").url == "/cart/"


def test_the_review_step_shows_lines_total_address_and_a_fresh_key_each_time(customer_client, books):
    customer_client.post("/checkout/", ADDRESS_FORM)

    first = customer_client.get("/checkout/review/").content.decode()
    second = customer_client.get("/checkout/review/").content.decode()

    assert "Place order · $24.50" in first
    assert "1 Library Lane" in first
    assert hidden_value(first, "expected_total") == "24.50"
    assert hidden_value(first, "idempotency_key") != hidden_value(second, "idempotency_key")


def test_the_review_step_writes_the_address_as_the_country_expects(customer_client, books):
    us_address = ADDRESS_FORM | {"city": "Springfield", "region": "IL", "postal_code": "62704", "country": "US"}
    customer_client.post("/checkout/", us_address)

    html = customer_client.get("/checkout/review/").content.decode()

    assert (
        '<address class="address">Alice Reader<br>1 Library Lane<br>Springfield, IL 62704<br>United States</address>'
    ) in html


def review_form(client) -> dict[str, str]:
    client.post("/checkout/", ADDRESS_FORM)
    html = client.get("/checkout/review/").content.decode()
    return {name: hidden_value(html, name) for name in ("idempotency_key", "expected_total")}


def test_placing_the_order_shows_it(customer_client, cart, books, django_capture_on_commit_callbacks):
    form = review_form(customer_client)

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post("/checkout/place/", form | card_form(), follow=True)

    order = Order.objects.get()
    assert response.redirect_chain == [(f"/orders/{order.reference}/", 302)]
    assert f"Thank you! Your order {order.reference} is placed." in response.content.decode()
    assert order.status == Order.Status.PAID
    assert quantities(cart) == {}


def test_a_double_clicked_place_order_makes_one_order(customer_client, books):
    form = review_form(customer_client) | card_form()

    first = customer_client.post("/checkout/place/", form)
    second = customer_client.post("/checkout/place/", form)

    order = Order.objects.get()
    assert first.url == second.url == f"/orders/{order.reference}/"
    assert stock(books[0]) == 3


def test_a_declined_card_goes_back_to_the_review_with_the_reason_and_a_new_key(customer_client, cart, books):
    form = review_form(customer_client)

    response = customer_client.post("/checkout/place/", form | card_form("4000 0000 0000 0002"), follow=True)
    html = response.content.decode()

    assert response.redirect_chain == [("/checkout/review/", 302)]
    assert "Payment failed: Your card was declined." in html
    assert hidden_value(html, "idempotency_key") != form["idempotency_key"]
    assert quantities(cart) == {books[0].pk: 2, books[1].pk: 1}
    assert stock(books[0]) == 5


def test_a_charge_without_an_answer_tells_the_customer_it_is_being_confirmed(customer_client, cart, books, processor):
    form = review_form(customer_client) | card_form()
    processor.behaviour = "stall_after_charge"

    response = customer_client.post("/checkout/place/", form, follow=True)
    html = response.content.decode()

    order = Order.objects.get()
    assert response.redirect_chain == [(f"/orders/{order.reference}/", 302)]
    assert f"We are confirming your payment for order {order.reference}" in html
    assert "You will not be charged twice" in html
    assert "You have not been charged" not in html
    assert quantities(cart) == {books[0].pk: 2, books[1].pk: 1}

    processor.behaviour = "normal"  # the customer tries again with the same page
    again = customer_client.post("/checkout/place/", form, follow=True)

    assert again.redirect_chain == [(f"/orders/{order.reference}/", 302)]
    assert f"Thank you! Your order {order.reference} is placed." in again.content.decode()
    assert (processor.charge_requests, processor.charges_made) == (2, 1)
    assert stock(books[0]) == 3


def test_out_of_stock_at_checkout_goes_back_to_the_cart(customer_client, books):
    form = review_form(customer_client)
    Inventory.objects.filter(book=books[0]).update(stock_on_hand=0)

    response = customer_client.post("/checkout/place/", form | card_form(), follow=True)

    assert response.redirect_chain == [("/cart/", 302)]
    assert "“Dune” is out of stock." in response.content.decode()
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("card_number", "4242 4242 4242 4241", "Enter a valid card number."),
        ("card_number", "abcd", "Enter a valid card number."),
        ("card_expiry", "01/20", "This card has expired."),
        ("card_expiry", "13/40", "Enter the expiry date as MM/YY."),
        ("card_cvc", "12", "Enter the 3 or 4 digits on the card."),
        ("idempotency_key", "not-a-uuid", "This page is out of date."),
        ("expected_total", "-1", "This page is out of date."),
    ],
)
def test_a_bad_payment_form_shows_again_only_the_valid_card_fields(customer_client, books, field, value, error):
    form = review_form(customer_client) | card_form() | {field: value}

    response = customer_client.post("/checkout/place/", form)
    html = response.content.decode()

    assert response.status_code == 400
    assert error in html
    assert "no-store" in response["Cache-Control"]
    # What passed is shown as typed; the field in error and the security code are blank.
    kept = {"card_number": "4242 4242 4242 4242", "card_expiry": "12/40", "card_cvc": None}
    for name, shown in kept.items():
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
        assert tag, f"no {name} field"
        assert card_field_value(tag.group(0)) == (None if name == field else shown)
    assert Order.objects.count() == 0
    assert stock(books[0]) == 5


def card_field_value(tag: str) -> str | None:
    match = re.search(r'value="([^"]*)"', tag)
    return match.group(1) if match else None


def test_a_rejected_card_leaves_no_card_data_in_the_session(customer_client, books):
    form = review_form(customer_client) | card_form() | {"card_expiry": "13/40"}

    customer_client.post("/checkout/place/", form)

    session = customer_client.session
    assert "4242" not in repr(dict(session.items()))


# --- Query counts --------------------------------------------------------------------------------


def test_the_address_page_query_count_is_fixed(customer_client, books, django_assert_num_queries):
    customer_client.get("/checkout/")

    # The customer, and their last order's address for the form.
    with django_assert_num_queries(2):
        customer_client.get("/checkout/")


def test_the_review_page_query_count_is_fixed(customer_client, books, django_assert_num_queries):
    customer_client.post("/checkout/", ADDRESS_FORM)
    customer_client.get("/checkout/review/")

    # The customer, and the books with their stock and authors (one query: cart.selectors).
    with django_assert_num_queries(2):
        customer_client.get("/checkout/review/")


def test_placing_an_order_query_count_is_fixed(customer_client, books, django_assert_num_queries):
    form = review_form(customer_client) | card_form()

    # The customer; the key lookup and the cart's books; transaction 1 (a savepoint here):
    # the order insert, the locked stock rows, the stock update, the lines; transaction 2:
    # the locked order, its paid update and its lines for emptying the cart.
    with django_assert_num_queries(14):
        customer_client.post("/checkout/place/", form)


def test_a_review_written_before_paying_becomes_a_verified_purchase_when_paid(
    customer, cart, books, django_capture_on_commit_callbacks
):
    dune, _emma = books
    review = catalog_services.review_create(book=dune, user=customer, rating=5, title="Spice", body="Must flow.")
    assert not review.verified_purchase

    with django_capture_on_commit_callbacks(execute=True):
        place(customer, cart)

    review.refresh_from_db()
    assert review.verified_purchase
