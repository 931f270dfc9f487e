"""The cart page, the add-to-cart control (form POST and JSON) and the header count."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cart import services
from cart.store import customer_cart
from catalog.models import Book
from cloudshelf.edge.page_cache import pages_changed
from tests.cart.helpers import quantities
from tests.factories import BookFactory, CategoryFactory

pytestmark = pytest.mark.django_db

JSON = {"accept": "application/json"}


def header_count(html: str) -> str | None:
    """The number in the header's cart link, or ``None`` when the badge is hidden."""
    match = re.search(
        r'data-cart-count( hidden)?><span class="visually-hidden">, items: </span>'
        r"<span data-cart-count-value>(\d+)</span>",
        html,
    )
    assert match, "no cart link in the header"
    return None if match.group(1) else match.group(2)


# --- Adding ------------------------------------------------------------------------------------


def test_a_form_post_adds_and_goes_back_to_the_page_it_came_from(store_kind, client):
    book = BookFactory(title="Emma")

    response = client.post("/cart/add/", {"book_id": book.pk, "quantity": "2", "next": book.get_absolute_url()})
    page = client.get(response.url).content.decode()

    assert response.status_code == 302
    assert response.url == book.get_absolute_url()
    assert "Added “Emma” to your cart." in page
    assert header_count(page) == "2"


def test_an_unsafe_next_url_is_ignored(client):
    response = client.post("/cart/add/", {"book_id": BookFactory().pk, "next": "https://evil.example/"})

    assert response.url == "/cart/"


def test_a_json_add_answers_with_the_new_count(store_kind, client):
    book, other = BookFactory(title="Emma"), BookFactory()
    client.post("/cart/add/", {"book_id": other.pk, "quantity": "3"}, headers=JSON)

    response = client.post("/cart/add/", {"book_id": book.pk}, headers=JSON)

    assert response.status_code == 200
    assert response.json() == {"ok": True, "quantity": 1, "count": 4, "message": "Added “Emma” to your cart."}


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [
        ({"book_id": "abc"}, "unknown_book", 400),
        ({"book_id": "999999999"}, "unknown_book", 400),
        ({}, "unknown_book", 400),
        ({"book_id": "BOOK", "quantity": "0"}, "invalid_quantity", 400),
        ({"book_id": "BOOK", "quantity": "-1"}, "invalid_quantity", 400),
        ({"book_id": "BOOK", "quantity": "abc"}, "invalid_quantity", 400),
        ({"book_id": "BOOK", "quantity": str(10**20)}, "invalid_quantity", 400),
        ({"book_id": "BOOK", "quantity": "6"}, "not_enough_stock", 409),  # the stock is at fault, not the input
    ],
)
def test_a_refused_json_add_has_the_reason_and_its_status_and_changes_nothing(client, data, code, status):
    book = BookFactory(stock=5)
    client.post("/cart/add/", {"book_id": book.pk}, headers=JSON)
    data = {name: str(book.pk) if value == "BOOK" else value for name, value in data.items()}

    response = client.post("/cart/add/", data, headers=JSON)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert client.get("/cart/", headers=JSON).context["contents"].count == 1


def test_a_bad_form_post_shows_the_reason(client):
    response = client.post("/cart/add/", {"book_id": "<b>hostile</b>"}, follow=True)

    assert "That book is not in our catalog." in response.content.decode()
    assert "<b>hostile</b>" not in response.content.decode()


def test_cart_writes_need_post(client):
    assert client.get("/cart/add/").status_code == 405
    assert client.get("/cart/remove/").status_code == 405


def test_csrf_protection_stays_on(customer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    book = BookFactory()
    browser.get(book.get_absolute_url())  # sets the CSRF cookie, as a browser visit does
    token = browser.cookies["csrftoken"].value

    refused = browser.post("/cart/add/", {"book_id": book.pk}, headers=JSON)
    accepted = browser.post("/cart/add/", {"book_id": book.pk}, headers=JSON | {"x-csrftoken": token})

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert quantities(customer_cart(customer.pk)) == {book.pk: 1}


def test_the_first_add_gives_an_anonymous_visitor_a_session(client):
    response = client.post("/cart/add/", {"book_id": BookFactory().pk}, headers=JSON)

    assert response.cookies["sessionid"].value


# --- Book pages and cards ----------------------------------------------------------------------


def test_the_book_page_has_an_add_to_cart_form(client):
    book = BookFactory(stock=3)

    html = client.get(book.get_absolute_url()).content.decode()

    assert '<form class="add-to-cart" method="post" action="/cart/add/" data-add-to-cart>' in html
    assert f'<input type="hidden" name="book_id" value="{book.pk}">' in html
    assert 'name="quantity" value="1" min="1" max="3"' in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_a_book_out_of_stock_has_no_add_to_cart_form(client):
    book = BookFactory(stock=0)

    assert "data-add-to-cart" not in client.get(book.get_absolute_url()).content.decode()


def test_listing_cards_have_a_compact_add_to_cart_button(client):
    category = CategoryFactory(name="Poetry", slug="poetry")
    books = BookFactory.create_batch(3, category=category)

    html = client.get("/categories/poetry/").content.decode()

    assert html.count('class="add-to-cart add-to-cart--compact"') == 3
    for book in books:
        assert f'name="book_id" value="{book.pk}"' in html


# --- The cart page -----------------------------------------------------------------------------


def test_the_cart_page_lists_lines_with_todays_prices_and_the_total(store_kind, customer_client, customer):
    cart = customer_cart(customer.pk)
    dune = BookFactory(title="Dune", price=Decimal("10.00"))
    emma = BookFactory(title="Emma", price=Decimal("4.50"))
    services.cart_add_item(cart=cart, book_id=emma.pk, quantity=2)
    services.cart_add_item(cart=cart, book_id=dune.pk)

    response = customer_client.get("/cart/")
    html = response.content.decode()

    assert [item.book.title for item in response.context["contents"].items] == ["Dune", "Emma"]
    assert '<p class="cart-line__total">$9.00</p>' in html
    assert '<span class="cart-summary__total">$19.00</span>' in html
    assert header_count(html) == "3"
    assert 'href="/checkout/"' in html


def test_the_cart_page_says_when_a_price_changed(customer_client, customer):
    book = BookFactory(price=Decimal("10.00"))
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk)
    book.price = Decimal("12.00")
    book.save()

    html = customer_client.get("/cart/").content.decode()

    assert "Price went up from $10.00 since you added it." in html
    assert '<p class="cart-line__total">$12.00</p>' in html


def test_the_cart_page_says_when_a_line_went_out_of_stock(customer_client, customer):
    book = BookFactory(stock=5)
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=3)
    book.inventory.stock_on_hand = 0
    book.inventory.save()

    html = customer_client.get("/cart/").content.decode()

    assert "Out of stock since you added it." in html
    assert 'href="/checkout/"' not in html


def test_the_cart_page_says_when_fewer_are_left_than_in_the_cart(customer_client, customer):
    book = BookFactory(stock=5)
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=3)
    book.inventory.stock_on_hand = 2
    book.inventory.save()

    assert "Only 2 left: lower the quantity" in customer_client.get("/cart/").content.decode()


def test_a_quantity_past_the_stock_is_refused_with_the_limit_the_field_shows(customer_client, customer):
    book = BookFactory(stock=13)
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=2)

    refused = customer_client.post("/cart/update/", {"book_id": book.pk, "quantity": "25"}, follow=True)

    html = refused.content.decode()
    assert "Choose a quantity from 1 to 13." in html
    assert 'name="quantity" value="2" min="1" max="13"' in html
    assert quantities(customer_cart(customer.pk)) == {book.pk: 2}


def test_the_cart_page_drops_books_the_catalog_no_longer_sells(customer_client, customer):
    cart = customer_cart(customer.pk)
    kept, dropped = BookFactory(), BookFactory()
    services.cart_add_item(cart=cart, book_id=kept.pk)
    services.cart_add_item(cart=cart, book_id=dropped.pk)
    dropped.delete()

    html = customer_client.get("/cart/").content.decode()

    assert "no longer sold; we removed it" in html
    assert quantities(cart) == {kept.pk: 1}


def test_the_cart_page_of_a_new_visitor_is_empty(client):
    html = client.get("/cart/").content.decode()

    assert "Your cart is empty." in html
    assert header_count(html) is None


def test_update_and_remove_forms_change_the_cart(store_kind, customer_client, customer):
    cart = customer_cart(customer.pk)
    book, other = BookFactory(title="Emma"), BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk)
    services.cart_add_item(cart=cart, book_id=other.pk)

    updated = customer_client.post("/cart/update/", {"book_id": book.pk, "quantity": "4"}, follow=True)
    customer_client.post("/cart/remove/", {"book_id": other.pk})

    assert "Updated the quantity of “Emma”." in updated.content.decode()
    assert quantities(cart) == {book.pk: 4}


def test_clear_empties_the_cart_from_the_page(customer_client, customer):
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=BookFactory().pk)

    response = customer_client.post("/cart/clear/", follow=True)

    assert "Your cart is empty." in response.content.decode()
    assert quantities(cart) == {}


# --- Query counts -----------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [1, 10])
def test_the_cart_page_query_count_is_fixed(customer_client, customer, django_assert_num_queries, lines):
    cart = customer_cart(customer.pk)
    for book in BookFactory.create_batch(lines):
        services.cart_add_item(cart=cart, book_id=book.pk)
    customer_client.get("/cart/")  # warm the session and category caches
    pages_changed([f"book:{book.pk}" for book in Book.objects.all()])  # the kept page is retired: drawn again

    # The signed-in customer, and the books with their stock and authors.
    with django_assert_num_queries(2):
        assert customer_client.get("/cart/").status_code == 200
    # Kept: the signed-in customer only.
    with django_assert_num_queries(1):
        assert customer_client.get("/cart/").status_code == 200


def test_an_anonymous_cart_page_costs_one_query(client, django_assert_num_queries):
    book = BookFactory()
    client.post("/cart/add/", {"book_id": book.pk})
    client.get("/cart/")
    pages_changed([f"book:{book.pk}"])

    with django_assert_num_queries(1):  # drawn again: the books with their stock and authors
        client.get("/cart/")
    with django_assert_num_queries(0):  # kept
        client.get("/cart/")


def test_the_header_count_costs_no_query(client):
    book = BookFactory()
    client.get(book.get_absolute_url())  # warm the page caches
    with CaptureQueriesContext(connection) as without_cart:
        client.get(book.get_absolute_url())
    client.post("/cart/add/", {"book_id": book.pk})
    client.get(book.get_absolute_url())  # the new session is now in the cache
    with CaptureQueriesContext(connection) as with_cart:
        html = client.get(book.get_absolute_url()).content.decode()

    assert header_count(html) == "1"
    assert [query["sql"] for query in with_cart] == [query["sql"] for query in without_cart]
