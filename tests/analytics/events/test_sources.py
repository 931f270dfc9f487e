"""Where events come from: the cart's signals, the search app's signal, and a real Celery worker."""

import time
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics import buffer, events
from analytics.models import BookDay, SearchDay, SearchLog, SiteDay
from cart import services
from cart.services import CartError
from cart.store import customer_cart
from search.engine import search_books
from tests.cart.helpers import ADDRESS, APPROVED_CARD, DECLINED_CARD
from tests.factories import BookFactory, UserFactory
from tests.workers import real_worker


@pytest.fixture
def queued_flushes(monkeypatch):
    from analytics import tasks

    sent = []
    monkeypatch.setattr(tasks.flush_buffer, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


def today_counts():
    row = SiteDay.objects.get(day=timezone.localdate())
    return {name: getattr(row, name) for name in ("views", "adds", "checkouts", "orders", "units", "revenue")}


@pytest.mark.django_db
def test_adding_to_a_cart_and_placing_an_order_are_counted_once_committed(
    queued_flushes, django_capture_on_commit_callbacks
):
    dune, emma = BookFactory(title="Dune", price=Decimal("12.50")), BookFactory(title="Emma", price=Decimal("4.00"))
    customer = UserFactory()
    cart = customer_cart(customer.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.cart_add_item(cart=cart, book_id=dune.pk, quantity=2)
        services.cart_add_item(cart=cart, book_id=emma.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_place(
            user=customer, cart=cart, address=ADDRESS, card=APPROVED_CARD, idempotency_key=uuid.uuid4()
        )

    buffer.flush(stream="events")

    assert today_counts() == {
        "views": 0,
        "adds": 2,
        "checkouts": 1,
        "orders": 1,
        "units": 3,
        "revenue": Decimal("29.00"),
    }
    assert sorted(BookDay.objects.values_list("book_id", "adds", "checkouts", "orders", "units", "revenue")) == [
        (dune.pk, 1, 1, 1, 2, Decimal("25.00")),
        (emma.pk, 1, 1, 1, 1, Decimal("4.00")),
    ]


@pytest.mark.django_db
def test_a_declined_payment_is_a_checkout_started_but_no_order(queued_flushes, django_capture_on_commit_callbacks):
    book = BookFactory(price=Decimal("10.00"))
    customer = UserFactory()
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=book.pk)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(CartError):
        services.order_place(
            user=customer, cart=cart, address=ADDRESS, card=DECLINED_CARD, idempotency_key=uuid.uuid4()
        )

    buffer.flush(stream="events")

    assert today_counts() == {
        "views": 0,
        "adds": 0,
        "checkouts": 1,
        "orders": 0,
        "units": 0,
        "revenue": Decimal("0.00"),
    }


@pytest.mark.django_db
def test_an_order_in_another_currency_counts_copies_but_no_revenue(queued_flushes, django_capture_on_commit_callbacks):
    book = BookFactory(price=Decimal("10.00"), currency="EUR")
    customer = UserFactory()
    cart = customer_cart(customer.pk)
    services.cart_add_item(cart=cart, book_id=book.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.order_place(
            user=customer, cart=cart, address=ADDRESS, card=APPROVED_CARD, idempotency_key=uuid.uuid4()
        )

    buffer.flush(stream="events")

    assert (today_counts()["orders"], today_counts()["units"], today_counts()["revenue"]) == (1, 1, Decimal("0.00"))


@pytest.mark.django_db
def test_a_failing_listener_never_fails_the_cart(
    queued_flushes, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    from analytics import receivers

    def broken(*args, **kwargs):
        raise RuntimeError("analytics broke")

    monkeypatch.setattr(receivers, "record_event", broken)
    book = BookFactory()

    with django_capture_on_commit_callbacks(execute=True):
        change = services.cart_add_item(cart=customer_cart(UserFactory().pk), book_id=book.pk)

    assert change.quantity == 1
    assert "cart: a listener" in caplog.text


@pytest.mark.django_db
def test_searches_are_counted_per_day_under_their_normalized_query_first_pages_only(queued_flushes, settings):
    settings.OPENSEARCH_URL = ""
    BookFactory(title="Dune")
    for query in ["Dune", "  dune ", "DUNE", "zzzz nothing"]:
        search_books(query=query)
    events.record_event("search", query="Emma", result_count=0)

    assert buffer.flush(stream="search") == 5

    assert sorted(SearchDay.objects.values_list("query", "searches", "zero_results")) == [
        ("dune", 3, 3),
        ("emma", 1, 1),
        ("zzzz nothing", 1, 1),
    ]
    assert SearchLog.objects.count() == 5


@pytest.mark.django_db
def test_a_later_page_of_results_is_logged_but_not_counted_as_a_search(queued_flushes):
    buffer.enqueue("search", {"query": "dune", "page": 2, "result_count": 40, "is_zero_result": False})

    assert buffer.flush(stream="search") == 1
    assert SearchLog.objects.get().page == 2
    assert not SearchDay.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_flushes_a_burst_of_events(monkeypatch):
    monkeypatch.setattr(buffer, "FLUSH_AFTER_SECONDS", 0)
    with real_worker("analytics") as worker:
        for _ in range(3):
            events.record_event("product_view", book_id=42)
        deadline = time.monotonic() + 20
        while not SiteDay.objects.exists() and time.monotonic() < deadline:
            worker.assert_alive()
            time.sleep(0.1)

    assert today_counts()["views"] == 3
    assert BookDay.objects.get().views == 3
