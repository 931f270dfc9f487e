"""Partner carts and orders: /api/v1/carts/…, /api/v1/orders/…, against real Redis and Postgres."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.cache import caches

from cart.models import Order
from cart.store import RedisCartStore
from catalog.models import Inventory
from partners.models import PartnerCart
from tests.api.conftest import dead_redis
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def new_cart(client, **body) -> str:
    response = client.post("/api/v1/carts/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def add(client, cart_id: str, book_id: int, quantity: int = 1):
    return client.post(
        f"/api/v1/carts/{cart_id}/lines/", {"book_id": book_id, "quantity": quantity}, content_type="application/json"
    )


def place(client, cart_id: str, key: str = "order-1", **body):
    return client.post(
        f"/api/v1/carts/{cart_id}/order/",
        {"shipping_address": ADDRESS, **body},
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


@pytest.fixture
def book():
    return BookFactory(title="The Glass Orchard", price=Decimal("14.99"), stock=5)


def test_a_new_cart_is_empty_and_remembers_the_customer_reference(api, partner):
    response = api.post("/api/v1/carts/", {"customer_reference": "customer-8812"}, content_type="application/json")

    body = response.json()
    assert response.status_code == 201
    assert body | {"id": None, "created_at": None} == {
        "id": None,
        "created_at": None,
        "customer_reference": "customer-8812",
        "order_id": None,
        "lines": [],
        "item_count": 0,
        "currency": "USD",
        "total": "0.00",
        "can_order": False,
    }
    assert PartnerCart.objects.get(pk=body["id"]).partner == partner


def test_adding_setting_and_removing_lines(api, book):
    other = BookFactory(price=Decimal("5.00"), stock=9)
    cart_id = new_cart(api)

    added = add(api, cart_id, book.pk, 2)
    add(api, cart_id, other.pk)
    set_response = api.put(
        f"/api/v1/carts/{cart_id}/lines/{other.pk}/", {"quantity": 3}, content_type="application/json"
    )
    removed = api.delete(f"/api/v1/carts/{cart_id}/lines/{book.pk}/")

    assert added.status_code == 200
    assert added.json()["lines"] == [
        {
            "book_id": book.pk,
            "isbn13": book.isbn13,
            "title": "The Glass Orchard",
            "quantity": 2,
            "unit_price": "14.99",
            "price_seen": "14.99",
            "line_total": "29.98",
            "stock_on_hand": 5,
            "is_out_of_stock": False,
            "is_short": False,
        }
    ]
    assert (set_response.json()["item_count"], set_response.json()["total"]) == (5, "44.98")
    assert [line["book_id"] for line in removed.json()["lines"]] == [other.pk]
    assert api.get(f"/api/v1/carts/{cart_id}/").json()["total"] == "15.00"


def test_adding_more_than_the_stock_is_409_and_changes_nothing(api, book):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk, 4)

    response = add(api, cart_id, book.pk, 2)

    assert response.status_code == 409
    assert response.json()["code"] == "not_enough_stock"
    assert api.get(f"/api/v1/carts/{cart_id}/").json()["item_count"] == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"book_id": "abc"}, "book_id"),
        ({"book_id": 0}, "book_id"),
        ({"book_id": 2**70}, "book_id"),
        ({}, "book_id"),
        ({"book_id": 1, "quantity": 0}, "quantity"),
        ({"book_id": 1, "quantity": -3}, "quantity"),
        ({"book_id": 1, "quantity": 1.5}, "quantity"),
        ({"book_id": 1, "quantity": 10**12}, "quantity"),
        ({"book_id": 1, "quantity": "lots"}, "quantity"),
    ],
)
def test_bad_lines_are_400_naming_the_field(api, body, field):
    cart_id = new_cart(api)

    response = api.post(f"/api/v1/carts/{cart_id}/lines/", body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_an_unknown_book_is_a_field_error(api):
    cart_id = new_cart(api)

    response = add(api, cart_id, 987654321)

    assert response.status_code == 400
    assert response.json()["fields"] == {"book_id": ["That book is not in our catalog."]}


def test_setting_a_line_that_is_not_in_the_cart_is_404(api, book):
    cart_id = new_cart(api)

    response = api.put(f"/api/v1/carts/{cart_id}/lines/{book.pk}/", {"quantity": 1}, content_type="application/json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_in_cart"


def test_placing_an_order_takes_the_stock_and_empties_the_cart(api, book, django_capture_on_commit_callbacks):
    cart_id = new_cart(api, customer_reference="customer-8812")
    add(api, cart_id, book.pk, 2)

    with django_capture_on_commit_callbacks(execute=True):  # the cart is emptied after the commit
        response = place(api, cart_id, expected_total="29.98")

    body = response.json()
    assert response.status_code == 201
    assert body | {"id": None, "created_at": None, "paid_at": None} == {
        "id": None,
        "status": "paid",
        "cart_id": cart_id,
        "customer_reference": "customer-8812",
        "currency": "USD",
        "total": "29.98",
        "lines": [
            {
                "book_id": book.pk,
                "isbn13": book.isbn13,
                "title": "The Glass Orchard",
                "unit_price": "14.99",
                "quantity": 2,
                "line_total": "29.98",
            }
        ],
        "shipping_address": ADDRESS | {"line2": "", "region": ""},
        "created_at": None,
        "paid_at": None,
        "shipped_at": None,
        "cancelled_at": None,
    }
    assert Inventory.objects.get(book=book).stock_on_hand == 3
    assert Order.objects.get(pk=body["id"]).payment_provider == "partner-invoice"
    cart = api.get(f"/api/v1/carts/{cart_id}/").json()
    assert (cart["order_id"], cart["lines"]) == (body["id"], [])


def test_the_same_idempotency_key_returns_the_same_order(api, book):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk, 2)

    first = place(api, cart_id, key="retry-me")
    second = place(api, cart_id, key="retry-me")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert Order.objects.filter(user__api_partner__isnull=False).count() == 1
    assert Inventory.objects.get(book=book).stock_on_hand == 3


def test_a_key_reused_for_another_cart_is_409(api, book):
    first_cart, second_cart = new_cart(api), new_cart(api)
    add(api, first_cart, book.pk)
    add(api, second_cart, book.pk)
    place(api, first_cart, key="once")

    response = place(api, second_cart, key="once")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_reused"
    assert Inventory.objects.get(book=book).stock_on_hand == 4


def test_an_ordered_cart_cannot_be_ordered_again_or_changed(api, book):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk)
    place(api, cart_id, key="first")

    again = place(api, cart_id, key="second")
    changed = add(api, cart_id, book.pk)

    assert (again.status_code, again.json()["code"]) == (409, "cart_ordered")
    assert (changed.status_code, changed.json()["code"]) == (409, "cart_ordered")


def test_ordering_an_empty_cart_is_409(api):
    response = place(api, new_cart(api))

    assert (response.status_code, response.json()["code"]) == (409, "empty_cart")


def test_a_changed_total_is_409_and_places_nothing(api, book):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk)

    response = place(api, cart_id, expected_total="10.00")

    assert (response.status_code, response.json()["code"]) == (409, "price_changed")
    assert not Order.objects.filter(user__api_partner__isnull=False).exists()


@pytest.mark.parametrize("key", [None, "", "x" * 256, "naïve-key", "tab\there"])
def test_an_order_needs_a_sensible_idempotency_key(api, book, key):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk)
    headers = {} if key is None else {"Idempotency-Key": key}

    response = api.post(
        f"/api/v1/carts/{cart_id}/order/",
        {"shipping_address": ADDRESS},
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]


@pytest.mark.parametrize(
    "address",
    [
        {},
        ADDRESS | {"country": "Britain"},
        ADDRESS | {"name": ""},
        ADDRESS | {"postal_code": "x" * 21},
        ADDRESS | {"city": "Lon\x00don"},
    ],
)
def test_a_bad_address_is_400(api, book, address):
    cart_id = new_cart(api)
    add(api, cart_id, book.pk)

    response = api.post(
        f"/api/v1/carts/{cart_id}/order/",
        {"shipping_address": address},
        content_type="application/json",
        headers={"Idempotency-Key": "k"},
    )

    assert response.status_code == 400
    assert all(field.startswith("shipping_address") for field in response.json()["fields"])


def test_orders_are_listed_newest_first(api, book):
    placed = []
    for index in range(3):
        cart_id = new_cart(api)
        add(api, cart_id, book.pk)
        placed.append(place(api, cart_id, key=f"order-{index}").json()["id"])

    first = api.get("/api/v1/orders/?page_size=2").json()
    second = api.get(first["next"]).json()

    assert [order["id"] for order in first["results"] + second["results"]] == placed[::-1]
    assert api.get(f"/api/v1/orders/{placed[0]}/").json()["id"] == placed[0]


def test_order_list_queries_do_not_grow_with_orders(api, book, django_assert_num_queries):
    """The orders with their cart, the lines prefetch (the key is cached by the earlier requests)."""
    for index in range(3):
        cart_id = new_cart(api)
        add(api, cart_id, book.pk)
        place(api, cart_id, key=f"order-{index}")

    with django_assert_num_queries(2):
        assert len(api.get("/api/v1/orders/").json()["results"]) == 3


# --- Isolation: another partner's carts and orders are 404, by any id -----------------------------


def test_a_partner_cannot_see_or_change_another_partners_cart(api, other_api, book):
    theirs = new_cart(other_api)
    add(other_api, theirs, book.pk, 2)

    answers = [
        api.get(f"/api/v1/carts/{theirs}/"),
        add(api, theirs, book.pk),
        api.put(f"/api/v1/carts/{theirs}/lines/{book.pk}/", {"quantity": 1}, content_type="application/json"),
        api.delete(f"/api/v1/carts/{theirs}/lines/{book.pk}/"),
        place(api, theirs),
    ]

    assert [answer.status_code for answer in answers] == [404] * 5
    assert all(answer.json()["code"] == "not_found" for answer in answers)
    assert other_api.get(f"/api/v1/carts/{theirs}/").json()["item_count"] == 2
    assert not Order.objects.exists()


def test_a_partner_cannot_see_another_partners_orders(api, other_api, book):
    theirs = new_cart(other_api)
    add(other_api, theirs, book.pk)
    their_order = place(other_api, theirs).json()["id"]

    assert api.get(f"/api/v1/orders/{their_order}/").status_code == 404
    assert api.get("/api/v1/orders/").json()["results"] == []
    # Guessing around the id finds nothing either.
    for guess in (their_order - 1, their_order + 1, 1, 2**63 - 1):
        assert api.get(f"/api/v1/orders/{guess}/").status_code == 404


def test_a_made_up_cart_id_is_404(api):
    assert api.get(f"/api/v1/carts/{uuid.uuid4()}/").status_code == 404
    assert api.get("/api/v1/carts/not-a-uuid/").status_code == 404


def test_the_same_idempotency_key_at_two_partners_makes_two_orders(api, other_api, book):
    mine, theirs = new_cart(api), new_cart(other_api)
    add(api, mine, book.pk)
    add(other_api, theirs, book.pk)

    assert place(api, mine, key="shared").status_code == 201
    assert place(other_api, theirs, key="shared").status_code == 201


def test_a_cart_answers_503_when_the_cart_store_is_down(api, book, monkeypatch):
    cart_id = new_cart(api)
    dead = dead_redis()
    store = RedisCartStore(dead, caches["default"].make_key)
    monkeypatch.setattr("cart.services.get_store", lambda: store)
    monkeypatch.setattr("cart.selectors.get_store", lambda: store)

    viewed, added = api.get(f"/api/v1/carts/{cart_id}/"), add(api, cart_id, book.pk)

    for response in (viewed, added):
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
