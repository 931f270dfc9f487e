"""Shipping addresses follow one rule on the checkout form and the partner API (cart.addresses)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cart.forms import ShippingAddressForm
from cart.models import Order
from tests.api.test_carts_api import ADDRESS, add, new_cart
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

# Characters that would forge or garble a printed label or a courier's CSV, or that a
# database refuses (a lone surrogate cannot be stored as UTF-8).
REFUSED = [
    "Ada\x07Lovelace",  # BEL
    "Ada\x1bLovelace",  # ESC: terminal escape sequences in a support tool
    "Ada\x7fLovelace",  # DEL
    "Ada\x9bLovelace",  # CSI, a C1 control
    "Ada\u202eecalevoL",  # right-to-left override: the label reads differently from the data
    "Ada\u2066Lovelace",  # left-to-right isolate
]
# The form also meets lone surrogates (the JSON parser refuses them in any API body, test_bad_input).
REFUSED_BY_THE_FORM = [*REFUSED, "Ada\ud800Lovelace"]
# Whitespace of any kind is collapsed to single spaces, on both paths alike.
COLLAPSED = [
    ("Ada\tLovelace", "Ada Lovelace"),
    ("  Ada \r\n Lovelace  ", "Ada Lovelace"),
    ("Ada\u2028Lovelace", "Ada Lovelace"),
    ("Ada\x1cLovelace", "Ada Lovelace"),  # str.split() counts the file separator as whitespace
    ("Ada\x85Lovelace", "Ada Lovelace"),  # and NEL, a C1 control
]
# Any script; the Persian name holds a zero-width non-joiner, which it needs.
ACCEPTED = [
    "Ada Lovelace",
    "Zoë Ångström-O'Brien",
    "\u0645\u062d\u0645\u062f",
    "Ли Вэй",
    "山田 太郎",
    "\u0646\u0631\u06af\u0633\u200c\u0632\u0627\u062f\u0647",
]


def form_errors(name: str) -> dict[str, list[str]]:
    form = ShippingAddressForm(data=ADDRESS | {"name": name})
    form.is_valid()
    return form.errors


@pytest.fixture
def cart_with_a_book(api):
    cart_id = new_cart(api)
    add(api, cart_id, BookFactory(price=Decimal("9.99"), stock=5).pk)
    return cart_id


def order_with_name(api, cart_id: str, name: str):
    return api.post(
        f"/api/v1/carts/{cart_id}/order/",
        {"shipping_address": ADDRESS | {"name": name}},
        content_type="application/json",
        headers={"Idempotency-Key": "address-test"},
    )


@pytest.mark.parametrize("name", REFUSED_BY_THE_FORM)
def test_the_checkout_form_refuses_control_and_direction_characters(name):
    assert form_errors(name) == {"name": ["Use letters, numbers and punctuation only."]}


@pytest.mark.parametrize("name", REFUSED)
def test_the_partner_api_refuses_them_too_and_places_nothing(api, cart_with_a_book, name):
    response = order_with_name(api, cart_with_a_book, name)

    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"shipping_address.name": ["Use letters, numbers and punctuation only."]}
    assert Order.objects.count() == 0


@pytest.mark.parametrize(("name", "expected"), COLLAPSED)
def test_both_collapse_whitespace_alike(api, cart_with_a_book, name, expected):
    form = ShippingAddressForm(data=ADDRESS | {"name": name})

    response = order_with_name(api, cart_with_a_book, name)

    assert form.is_valid(), form.errors
    assert form.address().name == expected
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["name"] == expected


@pytest.mark.parametrize("name", ACCEPTED)
def test_both_accept_names_in_any_script(api, cart_with_a_book, name):
    response = order_with_name(api, cart_with_a_book, name)

    assert form_errors(name) == {}
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["name"] == name


def test_every_free_text_field_of_the_api_address_is_checked(api, cart_with_a_book):
    fields = ("name", "line1", "line2", "city", "region", "postal_code")
    response = api.post(
        f"/api/v1/carts/{cart_with_a_book}/order/",
        {"shipping_address": ADDRESS | dict.fromkeys(fields, "x\x07y")},
        content_type="application/json",
        headers={"Idempotency-Key": "address-test"},
    )

    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == sorted(f"shipping_address.{field}" for field in fields)
