"""The site's abuse limits: search, autocomplete, anonymous cart creation and placing orders.

Each limit is set low here; the defaults are generous enough that a shopper never meets them.
Over a limit the answer is 429 with Retry-After, and nothing else happens.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from cart import services
from cart.models import Order
from cart.store import customer_cart
from tests.api.conftest import dead_redis
from tests.cart.helpers import ADDRESS_FORM, card_form, hidden_value, quantities
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

SHOPPER = "198.51.100.7"


@pytest.fixture(autouse=True)
def _searches_from_the_database(settings):
    """The limits sit in front of the search engine; the database answers without an index."""
    settings.SEARCH_FORCE_FALLBACK = True


# --- Search and autocomplete ----------------------------------------------------------------


def test_searches_per_address_are_limited_even_when_the_page_is_kept(settings):
    settings.SEARCHES_PER_ADDRESS_MINUTE = 2
    shopper = Client(REMOTE_ADDR=SHOPPER)

    answers = [shopper.get("/search/?q=dune") for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[2]
    assert 29 < int(refused["Retry-After"]) <= 30
    assert '<header class="site-header">' in refused.content.decode()
    assert "no-store" in refused["Cache-Control"]
    assert Client(REMOTE_ADDR="198.51.100.8").get("/search/?q=dune").status_code == 200


def test_autocomplete_per_address_is_limited_with_a_json_refusal(settings):
    settings.AUTOCOMPLETE_PER_ADDRESS_MINUTE = 2
    shopper = Client(REMOTE_ADDR=SHOPPER)

    answers = [shopper.get("/search/autocomplete", {"q": f"du{n}"}) for n in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json() == {
        "code": "rate_limited",
        "message": "Too many requests from you in a short time. Please wait a little and try again.",
    }
    assert refused["Retry-After"] == "30"
    assert "public" not in refused["Cache-Control"]  # a CDN must never keep a refusal
    assert "no-store" in refused["Cache-Control"]


def test_search_and_autocomplete_have_separate_buckets(settings):
    settings.SEARCHES_PER_ADDRESS_MINUTE = settings.AUTOCOMPLETE_PER_ADDRESS_MINUTE = 1
    shopper = Client(REMOTE_ADDR=SHOPPER)

    assert shopper.get("/search/?q=dune").status_code == 200
    assert shopper.get("/search/autocomplete", {"q": "du"}).status_code == 200


def test_clients_behind_the_trusted_proxy_each_have_their_own_bucket(settings):
    settings.SEARCHES_PER_ADDRESS_MINUTE, settings.TRUSTED_PROXY_COUNT = 1, 1
    proxy = Client(REMOTE_ADDR="10.0.0.1")

    first = proxy.get("/search/?q=dune", HTTP_X_FORWARDED_FOR=SHOPPER)
    other = proxy.get("/search/?q=dune", HTTP_X_FORWARDED_FOR="198.51.100.8")
    forged = proxy.get("/search/?q=dune", HTTP_X_FORWARDED_FOR=f"203.0.113.1, {SHOPPER}")

    assert [first.status_code, other.status_code, forged.status_code] == [200, 200, 429]


def test_search_limits_can_be_switched_off(settings):
    settings.SEARCHES_PER_ADDRESS_MINUTE = 1
    settings.RATE_LIMITS_ENABLED = False
    shopper = Client(REMOTE_ADDR=SHOPPER)

    assert {shopper.get("/search/?q=dune").status_code for _ in range(3)} == {200}


def test_search_limits_fail_open_when_redis_is_unreachable(settings, monkeypatch):
    settings.SEARCHES_PER_ADDRESS_MINUTE = 1
    dead = dead_redis()
    monkeypatch.setattr("django_redis.get_redis_connection", lambda alias="default": dead)

    answers = [Client(REMOTE_ADDR=SHOPPER).get("/search/autocomplete", {"q": "du"}) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200]


# --- Anonymous carts ---------------------------------------------------------------------


@pytest.fixture
def book():
    return BookFactory(title="Dune", price=Decimal("10.00"), stock=50)


def add_without_cookies(book, *, json: bool = False):
    """A visitor with no session (a fresh cookie jar): each add creates a cart."""
    client = Client(REMOTE_ADDR=SHOPPER)
    headers = {"Accept": "application/json"} if json else {}
    return client, client.post("/cart/add/", {"book_id": book.pk}, headers=headers)


def test_anonymous_carts_created_per_address_are_limited_and_a_refusal_creates_nothing(settings, book):
    settings.CARTS_PER_ADDRESS_HOUR = 2
    add_without_cookies(book)
    add_without_cookies(book)

    refused = add_without_cookies(book)[1]

    assert refused.status_code == 429
    assert 1790 < int(refused["Retry-After"]) <= 1800
    assert "sessionid" not in refused.cookies
    assert Session.objects.count() == 2  # the refused visitor got no session, so no cart


def test_a_visitor_who_has_a_cart_keeps_adding(settings, book):
    settings.CARTS_PER_ADDRESS_HOUR = 1
    client, first = add_without_cookies(book)

    answers = [client.post("/cart/add/", {"book_id": book.pk}).status_code for _ in range(3)]

    assert first.status_code == 302
    assert answers == [302, 302, 302]


def test_a_refused_cart_creation_answers_the_cart_endpoints_json_shape(settings, book):
    settings.CARTS_PER_ADDRESS_HOUR = 1
    add_without_cookies(book, json=True)

    refused = add_without_cookies(book, json=True)[1]

    assert refused.status_code == 429
    assert refused.json() == {
        "ok": False,
        "error": {
            "code": "rate_limited",
            "message": "Too many requests from you in a short time. Please wait a little and try again.",
        },
    }


def test_signed_in_customers_create_no_anonymous_cart(settings, book, customer):
    settings.CARTS_PER_ADDRESS_HOUR = 1
    client = Client(REMOTE_ADDR=SHOPPER)
    client.force_login(customer)

    assert [client.post("/cart/add/", {"book_id": book.pk}).status_code for _ in range(3)] == [302, 302, 302]


# --- Orders ------------------------------------------------------------------------------


def place_order_form(client, customer, book) -> dict[str, str]:
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=1)
    client.post("/checkout/", ADDRESS_FORM)
    html = client.get("/checkout/review/").content.decode()
    return {name: hidden_value(html, name) for name in ("idempotency_key", "expected_total")} | card_form()


def test_orders_per_customer_are_limited_and_a_refused_one_changes_nothing(
    settings, customer_client, customer, book, django_capture_on_commit_callbacks
):
    settings.ORDERS_PER_CUSTOMER_HOUR = 1
    with django_capture_on_commit_callbacks(execute=True):  # the first order empties the cart on commit
        first = customer_client.post("/checkout/place/", place_order_form(customer_client, customer, book))
    form = place_order_form(customer_client, customer, book)

    refused = customer_client.post("/checkout/place/", form)

    assert first.status_code == 302
    assert refused.status_code == 429
    assert 3590 < int(refused["Retry-After"]) <= 3600
    assert Order.objects.count() == 1
    assert quantities(customer_cart(customer.pk)) == {book.pk: 1}  # still in the cart, not charged


def test_the_order_limit_is_per_customer_not_per_address(settings, customer, other_customer, book):
    settings.ORDERS_PER_CUSTOMER_HOUR = 1
    answers = []
    for person in (customer, other_customer):
        client = Client(REMOTE_ADDR=SHOPPER)
        client.force_login(person)
        answers.append(client.post("/checkout/place/", place_order_form(client, person, book)).status_code)

    assert answers == [302, 302]
    assert Order.objects.count() == 2
