"""The Redis cart merge as three single-slot steps (claim, apply, release; cart.store):
a failure between any two loses no line and a resumed merge counts none twice.

Runs on the single node in ``make pytest`` and on the Redis Cluster in ``make pytest-cluster``,
where the anonymous and the customer cart are in different slots.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core.cache import caches

from cart import services
from cart import store as store_module
from cart.store import (
    CartLimits,
    CartStoreUnavailable,
    MergeOutcome,
    anonymous_cart,
    claim_key,
    customer_cart,
    get_store,
)
from tests.cart.helpers import quantities
from tests.factories import BookFactory, UserFactory

pytestmark = pytest.mark.django_db

LIMITS = CartLimits(max_lines=50, max_quantity=10)


@pytest.fixture
def carts():
    """An anonymous cart with two lines (2 and 3 copies) and a customer cart with one of the same book."""
    books = BookFactory.create_batch(3, stock=100)
    anonymous, customer = anonymous_cart("s" * 32), customer_cart(UserFactory().pk)
    services.cart_add_item(cart=anonymous, book_id=books[0].pk, quantity=2)
    services.cart_add_item(cart=anonymous, book_id=books[1].pk, quantity=3)
    services.cart_add_item(cart=customer, book_id=books[0].pk, quantity=1)
    return anonymous, customer, books


def failing(monkeypatch, script, *, times: int) -> list[int]:
    """Make ``script``'s next ``times`` runs fail as an unreachable Redis does; returns the count of failures."""
    failures: list[int] = []
    original = store_module.RedisCartStore._run

    def run(self, which, keys, args):
        if which is script and len(failures) < times:
            failures.append(1)
            raise CartStoreUnavailable("Redis went away")
        return original(self, which, keys, args)

    monkeypatch.setattr(store_module.RedisCartStore, "_run", run)
    return failures


def raw_exists(key: str) -> bool:
    store = get_store()
    return bool(store.client.exists(store.make_key(key)))


def merge(anonymous, customer) -> MergeOutcome:
    return get_store().merge(anonymous, customer, caps={}, limits=LIMITS)


def test_a_merge_failing_after_the_claim_keeps_the_lines_and_a_later_merge_moves_them_once(monkeypatch, carts):
    anonymous, customer, books = carts
    failing(monkeypatch, store_module._APPLY, times=store_module.MERGE_STEP_ATTEMPTS)

    with pytest.raises(CartStoreUnavailable):
        merge(anonymous, customer)

    assert quantities(anonymous) == {}  # claimed: in no cart anyone sees ...
    assert raw_exists(claim_key(anonymous))  # ... but kept
    assert quantities(customer) == {books[0].pk: 1}

    monkeypatch.undo()
    outcome = merge(anonymous, customer)

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3}
    assert (outcome.merged_lines, outcome.reduced_lines) == (2, 0)
    assert not raw_exists(claim_key(anonymous))


def test_a_merge_failing_after_the_apply_is_not_counted_twice_when_resumed(monkeypatch, carts):
    anonymous, customer, books = carts
    failing(monkeypatch, store_module._RELEASE, times=store_module.MERGE_STEP_ATTEMPTS)

    with pytest.raises(CartStoreUnavailable):
        merge(anonymous, customer)

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3}
    assert raw_exists(claim_key(anonymous))

    monkeypatch.undo()
    outcome = merge(anonymous, customer)

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3}  # the apply's marker: nothing added again
    assert (outcome.merged_lines, outcome.reduced_lines) == (2, 0)  # the first apply's outcome, replayed
    assert not raw_exists(claim_key(anonymous))
    assert merge(anonymous, customer) == MergeOutcome(merged_lines=0, reduced_lines=0)


def test_a_retried_log_in_resumes_a_merge_whose_cart_looks_empty(monkeypatch, carts):
    """The claim took the lines out of the visitor's cart: the service still merges it."""
    anonymous, customer, books = carts
    failing(monkeypatch, store_module._APPLY, times=store_module.MERGE_STEP_ATTEMPTS)
    with pytest.raises(services.CartError):
        services.cart_merge(source=anonymous, target=customer)  # the log-in goes on without it (cart.receivers)
    monkeypatch.undo()

    outcome = services.cart_merge(source=anonymous, target=customer)

    assert (outcome.merged_lines, quantities(customer)) == (2, {books[0].pk: 3, books[1].pk: 3})


def test_a_step_that_fails_once_is_retried_within_the_merge(monkeypatch, carts):
    anonymous, customer, books = carts
    failures = failing(monkeypatch, store_module._APPLY, times=1)

    outcome = merge(anonymous, customer)

    assert failures == [1]
    assert (outcome.merged_lines, outcome.reduced_lines) == (2, 0)
    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3}


def test_adds_after_the_claim_start_a_new_anonymous_cart_that_the_next_merge_moves(monkeypatch, carts):
    anonymous, customer, books = carts
    failing(monkeypatch, store_module._APPLY, times=store_module.MERGE_STEP_ATTEMPTS)
    with pytest.raises(CartStoreUnavailable):
        merge(anonymous, customer)
    monkeypatch.undo()
    services.cart_add_item(cart=anonymous, book_id=books[2].pk, quantity=4)

    merge(anonymous, customer)  # resumes the claim
    merge(anonymous, customer)  # moves the new cart

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3, books[2].pk: 4}
    assert quantities(anonymous) == {}


def test_a_retried_log_in_moves_the_claimed_lines_and_those_added_since(monkeypatch, carts):
    """The log-in is the last merge of the visitor's cart (the session gets a new key)."""
    anonymous, customer, books = carts
    failing(monkeypatch, store_module._APPLY, times=store_module.MERGE_STEP_ATTEMPTS)
    with pytest.raises(services.CartError):
        services.cart_merge(source=anonymous, target=customer)
    monkeypatch.undo()
    services.cart_add_item(cart=anonymous, book_id=books[2].pk, quantity=4)

    outcome = services.cart_merge(source=anonymous, target=customer)

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3, books[2].pk: 4}
    assert (outcome.merged_lines, outcome.reduced_lines) == (3, 0)
    assert (quantities(anonymous), raw_exists(claim_key(anonymous))) == ({}, False)


@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_of_one_cart_move_each_line_once(carts):
    anonymous, customer, books = carts

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(lambda _: merge(anonymous, customer), range(12)))

    assert quantities(customer) == {books[0].pk: 3, books[1].pk: 3}
    # Each merge moved both lines, replayed that outcome, or came after the release and found nothing.
    assert {(outcome.merged_lines, outcome.reduced_lines) for outcome in outcomes} <= {(2, 0), (0, 0)}
    assert (2, 0) in {(outcome.merged_lines, outcome.reduced_lines) for outcome in outcomes}
    assert not raw_exists(claim_key(anonymous))


def test_prices_seen_move_with_new_lines_and_the_customer_keeps_their_own(carts):
    anonymous, customer, books = carts

    merge(anonymous, customer)

    lines = get_store().lines(customer, refresh=False)
    assert lines[books[1].pk].price_seen == Decimal(books[1].price)
    assert lines[books[0].pk].price_seen == Decimal(books[0].price)


@pytest.mark.parametrize("session_key", ["", "}", "{x}", "a}b{c", "#" + "0" * 16, "x" * 5000])
def test_hostile_session_keys_merge_like_any_other(session_key):
    """A session cookie is the visitor's to choose: braces, emptiness or length change nothing."""
    book = BookFactory(stock=5)
    anonymous, customer = anonymous_cart(session_key), customer_cart(UserFactory().pk)
    services.cart_add_item(cart=anonymous, book_id=book.pk, quantity=2)

    outcome = services.cart_merge(source=anonymous, target=customer)

    assert (outcome.merged_lines, quantities(customer), quantities(anonymous)) == (1, {book.pk: 2}, {})
    assert not raw_exists(claim_key(anonymous))


def test_merge_keys_stay_in_their_carts_slots():
    """The claim shares the anonymous cart's slot, the marker the customer cart's (one script each)."""
    from redis.crc import key_slot

    make_key = caches["durable"].make_key
    for anonymous in (anonymous_cart("k" * 32), anonymous_cart("a}b{c"), anonymous_cart("")):
        assert key_slot(make_key(claim_key(anonymous)).encode()) == key_slot(make_key(anonymous.key).encode())
    customer = customer_cart(7)
    marker = store_module.merge_marker_key(customer, "ab" * 16)
    assert key_slot(make_key(marker).encode()) == key_slot(make_key(customer.key).encode())
