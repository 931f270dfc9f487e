"""Cart operations (cart.services) on both stores: Redis and the embedded default's cache."""

from decimal import Decimal

import pytest

from cart import services
from cart.services import CartChange, CartError
from cart.store import StoredLine, anonymous_cart, customer_cart, get_store
from tests.cart.helpers import cart_lines, quantities
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cart(customer):
    return customer_cart(customer.pk)


def test_add_creates_a_line_with_the_price_seen(store_kind, cart):
    book = BookFactory(price=Decimal("12.50"), stock=10)

    change = services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)

    assert change == CartChange(book_id=book.pk, title=book.title, quantity=2, count=2)
    assert cart_lines(cart) == {book.pk: StoredLine(quantity=2, price_seen=Decimal("12.50"))}


def test_adding_again_adds_to_the_line(store_kind, cart):
    book, other = BookFactory(), BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    services.cart_add_item(cart=cart, book_id=other.pk)

    change = services.cart_add_item(cart=cart, book_id=str(book.pk), quantity="3")

    assert (change.quantity, change.count) == (5, 6)
    assert quantities(cart) == {book.pk: 5, other.pk: 1}


def test_set_quantity_replaces_it_and_records_todays_price(store_kind, cart):
    book = BookFactory(price=Decimal("10.00"))
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=4)
    book.price = Decimal("11.00")
    book.save()

    change = services.cart_set_quantity(cart=cart, book_id=book.pk, quantity=1)

    assert (change.quantity, change.count) == (1, 1)
    assert cart_lines(cart) == {book.pk: StoredLine(quantity=1, price_seen=Decimal("11.00"))}


def test_remove_drops_the_line_and_a_second_remove_is_harmless(store_kind, cart):
    book, other = BookFactory(), BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    services.cart_add_item(cart=cart, book_id=other.pk)

    first = services.cart_remove_item(cart=cart, book_id=book.pk)
    second = services.cart_remove_item(cart=cart, book_id=book.pk)

    assert (first.count, second.count) == (1, 1)
    assert quantities(cart) == {other.pk: 1}


def test_clear_empties_the_cart(store_kind, cart):
    services.cart_add_item(cart=cart, book_id=BookFactory().pk)

    services.cart_clear(cart=cart)

    assert cart_lines(cart) == {}
    assert get_store().count(cart) == 0


def test_carts_of_different_customers_and_sessions_are_separate(store_kind, customer, other_customer):
    book = BookFactory()
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=2)

    assert quantities(customer_cart(other_customer.pk)) == {}
    assert quantities(anonymous_cart("a" * 32)) == {}


# --- Bad input: a clear error and nothing changes ---------------------------------------------

UNKNOWN = "unknown"  # replaced by an id no book has
VALID = "valid"  # replaced by the id of a book in stock


@pytest.mark.parametrize(
    ("book_id", "quantity", "code"),
    [
        (UNKNOWN, 1, "unknown_book"),
        ("abc", 1, "unknown_book"),
        ("0", 1, "unknown_book"),
        ("-1", 1, "unknown_book"),
        ("1.0", 1, "unknown_book"),
        ("1e3", 1, "unknown_book"),
        (str(10**20), 1, "unknown_book"),
        (10**20, 1, "unknown_book"),
        ("", 1, "unknown_book"),
        (None, 1, "unknown_book"),
        (True, 1, "unknown_book"),
        ("<script>alert(1)</script>", 1, "unknown_book"),
        ("1 OR 1=1; DROP TABLE cart_order;--", 1, "unknown_book"),
        ("q:1", 1, "unknown_book"),
        ("١٢", 1, "unknown_book"),
        (VALID, 0, "invalid_quantity"),
        (VALID, "0", "invalid_quantity"),
        (VALID, -1, "invalid_quantity"),
        (VALID, "-1", "invalid_quantity"),
        (VALID, "abc", "invalid_quantity"),
        (VALID, "1.5", "invalid_quantity"),
        (VALID, 1.5, "invalid_quantity"),
        (VALID, 10**20, "invalid_quantity"),
        (VALID, str(10**20), "invalid_quantity"),
        (VALID, 21, "invalid_quantity"),
        (VALID, "", "invalid_quantity"),
        (VALID, None, "invalid_quantity"),
        (VALID, True, "invalid_quantity"),
        (VALID, "2; EVAL", "invalid_quantity"),
    ],
)
@pytest.mark.parametrize("operation", ["add", "set"])
def test_bad_input_is_refused_and_changes_nothing(store_kind, cart, operation, book_id, quantity, code):
    book = BookFactory(stock=50)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    before = cart_lines(cart)
    book_id = {UNKNOWN: book.pk + 10_000, VALID: book.pk}.get(book_id, book_id) if isinstance(book_id, str) else book_id
    write = services.cart_add_item if operation == "add" else services.cart_set_quantity

    with pytest.raises(CartError) as refused:
        write(cart=cart, book_id=book_id, quantity=quantity)

    assert refused.value.code == code
    assert refused.value.message == services.ERROR_MESSAGES[code].format(max_quantity=20)
    assert cart_lines(cart) == before


def test_removing_a_hostile_id_is_refused(store_kind, cart):
    book = BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk)

    with pytest.raises(CartError, match="not in our catalog"):
        services.cart_remove_item(cart=cart, book_id="1' OR '1'='1")

    assert quantities(cart) == {book.pk: 1}


def test_more_than_in_stock_is_refused(store_kind, cart):
    book = BookFactory(title="Dune", stock=3)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)

    with pytest.raises(CartError) as refused:
        services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)

    assert refused.value.code == "not_enough_stock"
    assert refused.value.message == "Sorry, only 3 of “Dune” are in stock."
    assert quantities(cart) == {book.pk: 2}


def test_setting_more_than_in_stock_is_refused(store_kind, cart):
    book = BookFactory(stock=3)
    services.cart_add_item(cart=cart, book_id=book.pk)

    with pytest.raises(CartError, match="only 3"):
        services.cart_set_quantity(cart=cart, book_id=book.pk, quantity=4)

    assert quantities(cart) == {book.pk: 1}


def test_a_book_out_of_stock_cannot_be_added(store_kind, cart):
    book = BookFactory(title="Gone", stock=0)

    with pytest.raises(CartError) as refused:
        services.cart_add_item(cart=cart, book_id=book.pk)

    assert refused.value.message == "Sorry, “Gone” is out of stock."
    assert quantities(cart) == {}


def test_a_line_cannot_pass_the_per_line_maximum(store_kind, cart, settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 5
    book = BookFactory(stock=50)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=5)

    with pytest.raises(CartError) as refused:
        services.cart_add_item(cart=cart, book_id=book.pk, quantity=1)

    assert refused.value.code == "line_max_quantity"
    assert refused.value.message == "You can order at most 5 copies of a book."
    assert quantities(cart) == {book.pk: 5}


@pytest.mark.parametrize("operation", ["add", "set"])
def test_a_bad_quantity_names_the_stock_when_it_is_the_lower_limit(store_kind, cart, operation):
    book = BookFactory(stock=13)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    write = services.cart_add_item if operation == "add" else services.cart_set_quantity

    with pytest.raises(CartError) as refused:
        write(cart=cart, book_id=book.pk, quantity=21)

    assert refused.value.code == "invalid_quantity"
    assert refused.value.message == "Choose a quantity from 1 to 13."
    assert quantities(cart) == {book.pk: 2}


def test_a_full_cart_takes_no_new_line_but_more_of_a_line_it_has(store_kind, cart, settings):
    settings.CART_MAX_LINES = 2
    first, second, third = BookFactory(), BookFactory(), BookFactory()
    services.cart_add_item(cart=cart, book_id=first.pk)
    services.cart_add_item(cart=cart, book_id=second.pk)

    with pytest.raises(CartError) as refused:
        services.cart_add_item(cart=cart, book_id=third.pk)
    services.cart_add_item(cart=cart, book_id=first.pk)

    assert refused.value.code == "line_limit"
    assert "at most 2 different books" in refused.value.message
    assert quantities(cart) == {first.pk: 2, second.pk: 1}


def test_setting_a_line_that_is_not_in_the_cart_is_refused(store_kind, cart):
    book = BookFactory()

    with pytest.raises(CartError, match="not in your cart"):
        services.cart_set_quantity(cart=cart, book_id=book.pk, quantity=2)

    assert quantities(cart) == {}


# --- Merge on log-in ---------------------------------------------------------------------------


@pytest.fixture
def anonymous():
    return anonymous_cart("s" * 32)


def test_merge_adds_quantities_and_deletes_the_anonymous_cart(store_kind, cart, anonymous):
    shared, only_anonymous, only_customer = BookFactory(), BookFactory(price=Decimal("7.00")), BookFactory()
    services.cart_add_item(cart=anonymous, book_id=shared.pk, quantity=2)
    services.cart_add_item(cart=anonymous, book_id=only_anonymous.pk)
    services.cart_add_item(cart=cart, book_id=shared.pk, quantity=1)
    services.cart_add_item(cart=cart, book_id=only_customer.pk)

    outcome = services.cart_merge(source=anonymous, target=cart)

    assert (outcome.merged_lines, outcome.reduced_lines) == (2, 0)
    assert quantities(cart) == {shared.pk: 3, only_anonymous.pk: 1, only_customer.pk: 1}
    assert cart_lines(cart)[only_anonymous.pk].price_seen == Decimal("7.00")
    assert cart_lines(anonymous) == {}


def test_merge_caps_quantities_at_the_stock(store_kind, cart, anonymous):
    book = BookFactory(stock=3)
    services.cart_add_item(cart=anonymous, book_id=book.pk, quantity=2)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)

    outcome = services.cart_merge(source=anonymous, target=cart)

    assert outcome.reduced_lines == 1
    assert quantities(cart) == {book.pk: 3}


def test_merge_caps_quantities_at_the_per_line_maximum(store_kind, cart, anonymous, settings):
    settings.CART_MAX_QUANTITY_PER_LINE = 4
    book = BookFactory(stock=50)
    services.cart_add_item(cart=anonymous, book_id=book.pk, quantity=3)
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=3)

    services.cart_merge(source=anonymous, target=cart)

    assert quantities(cart) == {book.pk: 4}


def test_merge_drops_lines_that_sold_out_or_do_not_fit(store_kind, cart, anonymous, settings):
    kept, sold_out, no_room = BookFactory(), BookFactory(stock=5), BookFactory()
    services.cart_add_item(cart=anonymous, book_id=kept.pk)
    services.cart_add_item(cart=anonymous, book_id=sold_out.pk)
    services.cart_add_item(cart=anonymous, book_id=no_room.pk)
    sold_out.inventory.stock_on_hand = 0
    sold_out.inventory.save()
    already = BookFactory()
    services.cart_add_item(cart=cart, book_id=already.pk)
    settings.CART_MAX_LINES = 2

    outcome = services.cart_merge(source=anonymous, target=cart)

    assert (outcome.merged_lines, outcome.reduced_lines) == (1, 2)
    assert quantities(cart) == {already.pk: 1, kept.pk: 1}


def test_merging_an_empty_cart_changes_nothing(store_kind, cart, anonymous):
    book = BookFactory()
    services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)

    outcome = services.cart_merge(source=anonymous, target=cart)

    assert (outcome.merged_lines, outcome.reduced_lines) == (0, 0)
    assert quantities(cart) == {book.pk: 2}
