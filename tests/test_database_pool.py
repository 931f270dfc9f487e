"""Pooled Postgres connections (``DATABASE_POOL``): the settings, the bound, and giving a connection back.

The suite itself runs on the pool (``DATABASE_POOL`` defaults on), so every other database
test is also a test of it. These check what is particular to it on real connections to the
test database: how many a process may hold, how long a request waits for one, and that a
request gives its connection back before a slow call and at its end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import OperationalError, close_old_connections, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from cart import services
from cart.payments import CardDetails, PaymentResult
from cart.store import customer_cart
from cloudshelf.database import long_running_statements, release_connection, reset_changed_timeouts
from cloudshelf.env import ImproperlyConfiguredEnv
from tests.cart.helpers import ADDRESS, APPROVED_CARD
from tests.factories import BookFactory
from tests.test_settings import settings_for

POOL_SETTINGS = ("DATABASE_POOL", "DATABASE_POOL_MIN_SIZE", "DATABASE_POOL_MAX_SIZE", "DATABASE_POOL_TIMEOUT")


def test_the_pool_is_on_by_default_and_as_large_as_gunicorns_threads(monkeypatch):
    for name in (*POOL_SETTINGS, "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    database = settings_for(monkeypatch)["DATABASES"]["default"]
    # Django refuses persistent connections with a pool: the pool is what persists.
    assert database["CONN_MAX_AGE"] == 0
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["pool"] == {
        "min_size": 1,
        "max_size": 8,
        "timeout": 1.0,
        "max_idle": 600.0,
        "reset": reset_changed_timeouts,
    }
    # A request holds its connection to its end: fewer than the threads would make them queue.
    more_threads = settings_for(monkeypatch, GUNICORN_THREADS="12")["DATABASES"]["default"]
    assert more_threads["OPTIONS"]["pool"]["max_size"] == 12


def test_without_the_pool_each_thread_keeps_a_connection(monkeypatch):
    database = settings_for(monkeypatch, DATABASE_POOL="0", DATABASE_CONN_MAX_AGE="600")["DATABASES"]["default"]
    assert "pool" not in database["OPTIONS"]
    assert database["CONN_MAX_AGE"] == 600


def test_the_sizes_and_the_wait_are_settings(monkeypatch):
    environment = {"DATABASE_POOL_MIN_SIZE": "2", "DATABASE_POOL_MAX_SIZE": "3", "DATABASE_POOL_TIMEOUT": "0.25"}
    pool = settings_for(monkeypatch, **environment)["DATABASES"]["default"]["OPTIONS"]["pool"]
    assert (pool["min_size"], pool["max_size"], pool["timeout"]) == (2, 3, 0.25)


def test_the_embedded_default_has_no_pool(monkeypatch):
    database = settings_for(monkeypatch, DATABASE_URL=None, DATABASE_REPLICA_URL=None)["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "pool" not in database["OPTIONS"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"DATABASE_POOL_MAX_SIZE": "0"}, "DATABASE_POOL_MAX_SIZE"),
        ({"DATABASE_POOL_MAX_SIZE": "lots"}, "DATABASE_POOL_MAX_SIZE"),
        ({"DATABASE_POOL_MIN_SIZE": "-1"}, "DATABASE_POOL_MIN_SIZE"),
        ({"DATABASE_POOL_MIN_SIZE": "9", "DATABASE_POOL_MAX_SIZE": "4"}, "DATABASE_POOL_MIN_SIZE is above"),
        ({"DATABASE_POOL": "sometimes"}, "DATABASE_POOL"),
        ({"DATABASE_POOL_TIMEOUT": "0"}, "DATABASE_POOL_TIMEOUT"),
    ],
)
def test_bad_pool_settings_stop_the_start(monkeypatch, environment, message):
    with pytest.raises(ImproperlyConfiguredEnv, match=message):
        settings_for(monkeypatch, **environment)


@pytest.fixture
def tiny_pool() -> Iterator[BaseDatabaseWrapper]:
    """A connection to the test database on a pool of its own: one connection, a 0.5 s wait."""
    probe = connection.copy(alias=f"pool_probe_{uuid.uuid4().hex[:8]}")
    probe.settings_dict["OPTIONS"] = {
        **probe.settings_dict["OPTIONS"],
        "pool": {"min_size": 0, "max_size": 1, "timeout": 0.5},
    }
    probe.settings_dict["CONN_MAX_AGE"] = 0
    yield probe
    probe.close()
    probe.close_pool()


def _query_in_thread(template: BaseDatabaseWrapper, outcome: dict[str, object]) -> None:
    other = template.copy()  # the same alias, so the same pool, on this thread
    started = time.monotonic()
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT 1")
        outcome["result"] = "answered"
    except OperationalError as error:
        outcome["result"] = str(error)
    finally:
        outcome["waited"] = time.monotonic() - started
        other.close()


@pytest.mark.django_db
def test_a_full_pool_makes_a_request_wait_its_timeout_then_fail_clearly(tiny_pool):
    with tiny_pool.cursor() as cursor:  # holds the pool's only connection
        cursor.execute("SELECT 1")
    outcome: dict[str, object] = {}
    waiting = threading.Thread(target=_query_in_thread, args=(tiny_pool, outcome))
    waiting.start()
    waiting.join(timeout=10)
    assert "couldn't get a connection after 0.50 sec" in outcome["result"]
    assert 0.4 <= outcome["waited"] < 3


@pytest.mark.django_db
def test_a_connection_given_back_serves_the_next_request(tiny_pool):
    with tiny_pool.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        first_backend = cursor.fetchone()[0]
    tiny_pool.close()  # what Django does at the end of a request: back to the pool, still open
    outcome: dict[str, object] = {}
    other = threading.Thread(target=_query_in_thread, args=(tiny_pool, outcome))
    other.start()
    other.join(timeout=10)
    assert outcome["result"] == "answered"
    with tiny_pool.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == first_backend  # reused, not reconnected


@pytest.mark.django_db(transaction=True)
def test_the_end_of_a_request_gives_the_connection_back():
    assert connection.pool is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.connection is not None
    close_old_connections()  # connected to request_started/request_finished by Django
    assert connection.connection is None
    with connection.cursor() as cursor:  # and the next query takes one again
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db(transaction=True)
def test_release_connection_gives_it_back_outside_a_transaction_only():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    release_connection()
    assert connection.connection is None
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        release_connection()  # inside atomic: closing would end the transaction
        assert connection.connection is not None


class _WatchingCharger:
    """The built-in test provider's answer, noting whether the request held a connection meanwhile."""

    name = "watching"

    def __init__(self) -> None:
        self.held_connection: bool | None = None

    def charge(
        self, *, amount: Decimal, currency: str, card: CardDetails, idempotency_key: str, description: str
    ) -> PaymentResult:
        self.held_connection = connection.connection is not None
        return PaymentResult(is_approved=True, reference="ch_watch", card_last4=card.last4)

    def lookup(self, *, idempotency_key: str) -> PaymentResult | None:
        return None


@pytest.mark.django_db(transaction=True)
def test_checkout_holds_no_connection_while_the_provider_charges(customer):
    cart = customer_cart(customer.pk)
    book = BookFactory(price=Decimal("12.00"), stock=3)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=1)
    charger = _WatchingCharger()
    order = services.order_place(
        user=customer, cart=cart, address=ADDRESS, card=APPROVED_CARD, idempotency_key=uuid.uuid4(), provider=charger
    )
    assert order.status == "paid"
    assert charger.held_connection is False


@pytest.mark.django_db(transaction=True)
def test_a_connection_returned_inside_a_maintenance_block_gets_its_timeouts_back(tiny_pool, settings):
    tiny_pool.settings_dict["OPTIONS"]["pool"]["reset"] = connection.settings_dict["OPTIONS"]["pool"]["reset"]
    connections[tiny_pool.alias] = tiny_pool
    try:
        with long_running_statements(using=tiny_pool.alias):
            with tiny_pool.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid(), current_setting('statement_timeout')")
                backend, lifted = cursor.fetchone()
            tiny_pool.close()  # back to the pool while the timeouts are lifted (an error path would)
        with tiny_pool.cursor() as cursor:  # the pool's one connection again
            cursor.execute("SELECT pg_backend_pid(), current_setting('statement_timeout')")
            assert cursor.fetchone() == (backend, f"{settings.DATABASE_STATEMENT_TIMEOUT_MS // 1000}s")
        assert lifted == "0"
    finally:
        del connections[tiny_pool.alias]
