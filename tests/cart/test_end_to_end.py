"""The whole flow through HTTP, as a browser does it: browse, add to the cart anonymously,
log in (the carts merge), check out with a test card, find the order in the history."""

from decimal import Decimal

import pytest

from cart import services
from cart.models import Order
from cart.store import customer_cart
from catalog.models import Inventory
from tests.cart.helpers import ADDRESS_FORM, card_form, hidden_value, quantities
from tests.factories import BookFactory, CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_browse_add_log_in_merge_check_out_and_see_the_order(client, django_capture_on_commit_callbacks):
    poetry = CategoryFactory(name="Poetry", slug="poetry")
    odes = BookFactory(title="Odes", price=Decimal("8.00"), stock=4, category=poetry)
    sonnets = BookFactory(title="Sonnets", price=Decimal("12.00"), stock=9, category=poetry)
    alice = UserFactory(username="alice")
    # Alice put one copy of "Sonnets" in her cart on another device last week.
    services.cart_add_item(cart=customer_cart(alice.pk), book_id=sonnets.pk)

    # Browse anonymously and add from the listing and from the book page.
    listing = client.get("/categories/poetry/").content.decode()
    assert f'name="book_id" value="{odes.pk}"' in listing
    client.post("/cart/add/", {"book_id": odes.pk, "next": "/categories/poetry/"})
    book_page = client.get(sonnets.get_absolute_url()).content.decode()
    assert "data-add-to-cart" in book_page
    added = client.post("/cart/add/", {"book_id": sonnets.pk, "quantity": "2"}, headers={"accept": "application/json"})
    assert added.json()["count"] == 3

    # Log in through the real form: the anonymous cart merges into Alice's.
    logged_in = client.post(
        "/accounts/login/", {"username": "alice", "password": "correct horse battery staple"}, follow=True
    )
    assert logged_in.status_code == 200
    assert "We added the books from before you logged in to your cart." in logged_in.content.decode()
    assert quantities(customer_cart(alice.pk)) == {odes.pk: 1, sonnets.pk: 3}

    cart_page = client.get("/cart/").content.decode()
    assert '<span class="cart-summary__total">$44.00</span>' in cart_page

    # Checkout: address, review, place with the test card.
    assert client.post("/checkout/", ADDRESS_FORM).url == "/checkout/review/"
    review = client.get("/checkout/review/").content.decode()
    assert "Place order · $44.00" in review
    form = {name: hidden_value(review, name) for name in ("idempotency_key", "expected_total")} | card_form()
    with django_capture_on_commit_callbacks(execute=True):
        placed = client.post("/checkout/place/", form, follow=True)

    order = Order.objects.get(user=alice)
    assert placed.redirect_chain == [(f"/orders/{order.reference}/", 302)]
    assert (order.status, order.total) == (Order.Status.PAID, Decimal("44.00"))
    assert Inventory.objects.get(book=odes).stock_on_hand == 3
    assert Inventory.objects.get(book=sonnets).stock_on_hand == 6
    assert quantities(customer_cart(alice.pk)) == {}
    assert "data-cart-count hidden>" in client.get(order.get_absolute_url()).content.decode()

    # The order is in her history.
    history = client.get("/orders/").content.decode()
    assert f'<a href="/orders/{order.reference}/">Order {order.reference}</a>' in history
    assert "$44.00" in history
