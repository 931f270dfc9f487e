"""Carts expire after their idle time (real Redis TTLs), and a Redis outage is a clear answer, not a 500."""

import time

import pytest
import redis
from django.core.cache import caches

from cart import selectors, services
from cart.services import CartError
from cart.store import RedisCartStore, anonymous_cart, customer_cart
from tests.cart.helpers import quantities, raw_key
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

DAY = 24 * 60 * 60


def test_a_customer_cart_expires_after_thirty_idle_days(customer, redis_raw):
    cart = customer_cart(customer.pk)

    services.cart_add_item(cart=cart, book_id=BookFactory().pk)

    assert 30 * DAY - 5 <= redis_raw.ttl(raw_key(cart)) <= 30 * DAY


def test_an_anonymous_cart_expires_after_seven_idle_days(redis_raw):
    cart = anonymous_cart("k" * 32)

    services.cart_add_item(cart=cart, book_id=BookFactory().pk)

    assert 7 * DAY - 5 <= redis_raw.ttl(raw_key(cart)) <= 7 * DAY


def test_the_idle_time_is_configurable(customer, redis_raw, settings):
    settings.CART_CUSTOMER_TTL_DAYS = 2
    cart = customer_cart(customer.pk)

    services.cart_add_item(cart=cart, book_id=BookFactory().pk)

    assert 2 * DAY - 5 <= redis_raw.ttl(raw_key(cart)) <= 2 * DAY


@pytest.mark.parametrize(
    "use",
    [
        lambda cart, book: services.cart_add_item(cart=cart, book_id=book.pk),
        lambda cart, book: services.cart_set_quantity(cart=cart, book_id=book.pk, quantity=2),
        lambda cart, book: services.cart_remove_item(cart=cart, book_id=book.pk + 10_000),
        lambda cart, book: selectors.cart_contents(cart=cart),
    ],
    ids=["add", "set", "remove", "view"],
)
def test_every_use_restarts_the_idle_clock(customer, redis_raw, use):
    cart, book = customer_cart(customer.pk), BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk)
    redis_raw.expire(raw_key(cart), 60)

    use(cart, book)

    assert redis_raw.ttl(raw_key(cart)) > 29 * DAY


def test_showing_the_header_count_does_not_touch_the_idle_clock(customer, redis_raw):
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=BookFactory().pk, quantity=3)
    redis_raw.expire(raw_key(cart), 60)

    assert selectors.cart_count(cart=cart) == 3
    assert redis_raw.ttl(raw_key(cart)) <= 60


def test_a_refused_write_does_not_touch_the_idle_clock(customer, redis_raw):
    cart, book = customer_cart(customer.pk), BookFactory(stock=1)
    services.cart_add_item(cart=cart, book_id=book.pk)
    redis_raw.expire(raw_key(cart), 60)

    with pytest.raises(CartError):
        services.cart_add_item(cart=cart, book_id=book.pk)

    assert redis_raw.ttl(raw_key(cart)) <= 60


def test_an_expired_cart_is_empty(customer, client, redis_raw):
    client.force_login(customer)
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=BookFactory().pk, quantity=2)
    redis_raw.pexpire(raw_key(cart), 1)
    time.sleep(0.02)

    assert quantities(cart) == {}
    assert selectors.cart_count(cart=cart) == 0
    assert "Your cart is empty." in client.get("/cart/").content.decode()


# --- Redis down -----------------------------------------------------------------------------------


@pytest.fixture
def redis_down(monkeypatch):
    """Point the cart store at a port where nothing listens, as if Redis had died.

    Built like django-redis builds its clients (a pool from the URL), which fails at once
    rather than retrying with backoff as a bare ``redis.Redis()`` would.
    """
    pool = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    dead = redis.Redis(connection_pool=pool)
    store = RedisCartStore(dead, caches["default"].make_key)
    monkeypatch.setattr("cart.services.get_store", lambda: store)
    monkeypatch.setattr("cart.selectors.get_store", lambda: store)


def test_cart_writes_say_the_cart_is_unavailable_when_redis_is_down(customer, redis_down):
    with pytest.raises(CartError) as refused:
        services.cart_add_item(cart=customer_cart(customer.pk), book_id=BookFactory().pk)

    assert refused.value.code == "unavailable"
    assert refused.value.message == "Your cart is temporarily unavailable. Please try again in a moment."


def test_the_json_endpoint_answers_503_when_redis_is_down(client, redis_down):
    book = BookFactory()

    response = client.post("/cart/add/", {"book_id": book.pk}, headers={"accept": "application/json"})

    assert response.status_code == 503
    assert response.json() == {
        "ok": False,
        "error": {"code": "unavailable", "message": services.ERROR_MESSAGES["unavailable"]},
    }


def test_the_form_post_shows_a_message_when_redis_is_down(client, redis_down):
    book = BookFactory()

    response = client.post("/cart/add/", {"book_id": book.pk}, follow=True)

    assert response.redirect_chain == [("/cart/", 302)]
    assert services.ERROR_MESSAGES["unavailable"] in response.content.decode()


def test_the_cart_page_says_so_when_redis_is_down(customer_client, redis_down):
    response = customer_client.get("/cart/")

    assert response.status_code == 503
    assert "We cannot show your cart right now." in response.content.decode()


def test_catalog_pages_still_work_without_a_cart_count_when_redis_is_down(customer_client, redis_down):
    book = BookFactory()

    response = customer_client.get(book.get_absolute_url())

    assert response.status_code == 200
    assert '<span class="cart-link__count" data-cart-count hidden>' in response.content.decode()
