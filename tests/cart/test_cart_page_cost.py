"""The cart page's cost does not grow with its lines: one query for the books, each line drawn
once per version of what it shows (cart.markup), and nothing of one visitor in another's page."""

from __future__ import annotations

import os
import re
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.test import Client

from cart import markup, services
from cart.markup import CSRF_TOKEN_SLOT, cart_lines_html
from cart.selectors import cart_contents
from cart.store import customer_cart
from catalog import services as catalog_services
from catalog.models import Author, Book, Inventory
from tests.cart.helpers import quantities
from tests.factories import AuthorFactory, BookFactory

pytestmark = pytest.mark.django_db

TOKEN_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture(autouse=True)
def _fragments_of_this_run(settings):
    """Fragment keys of this test process only, deleted before and after each test.

    The fragments cache is shared by every test run on this Redis; factories make the
    same books in every run, so another run's lines would otherwise be hits here.
    """
    settings.CACHES = {
        **settings.CACHES,
        "fragments": {**settings.CACHES["fragments"], "KEY_PREFIX": f"test{os.getpid()}:fragment"},
    }
    empty_fragments()
    yield
    empty_fragments()


def empty_fragments() -> None:
    store = caches["fragments"]
    delete_pattern = getattr(store, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("*")  # Redis: this run's keys only (clear() would be FLUSHDB)
    else:
        store.clear()


@pytest.fixture
def draws(monkeypatch):
    """The books whose line was drawn (not taken from the fragments cache), in order."""
    drawn: list[int] = []
    original = markup.cart_line_html

    def counting(item):
        drawn.append(item.book.pk)
        return original(item)

    monkeypatch.setattr(markup, "cart_line_html", counting)
    return drawn


@pytest.fixture
def fragment_writes(monkeypatch):
    """What each ``set_many`` on the fragments cache wrote."""
    store = caches["fragments"]
    writes: list[dict[str, str]] = []
    original = store.set_many

    def counting(data, *args, **kwargs):
        writes.append(dict(data))
        return original(data, *args, **kwargs)

    monkeypatch.setattr(store, "set_many", counting)
    return writes


def fill_cart(user, count: int, **book_fields) -> list[Book]:
    books = BookFactory.create_batch(count, stock=20, **book_fields)
    for book in books:
        services.cart_add_item(cart=customer_cart(user.pk), book_id=book.pk, quantity=2)
    return books


def line_of(html: str, book: Book) -> str:
    match = re.search(rf'<li class="cart-line[^"]*" id="line-{book.pk}">.*?</li>', html, re.DOTALL)
    assert match, f"no line for book {book.pk}"
    return match.group(0)


# --- Queries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lines", [1, 3, 40])
def test_a_signed_in_cart_page_costs_two_queries_whatever_its_lines(
    customer_client, customer, django_assert_num_queries, lines, settings
):
    settings.PAGE_CACHE_SECONDS = 0  # every view drawn from the lines (the kept page: below)
    fill_cart(customer, lines, authors=[AuthorFactory(), AuthorFactory()])
    customer_client.get("/cart/")  # the session into the cache

    # The signed-in customer; the books with their stock and authors.
    with django_assert_num_queries(2):
        html = customer_client.get("/cart/").content.decode()

    assert html.count('<li class="cart-line') == lines


@pytest.mark.parametrize("lines", [1, 3, 40])
def test_a_kept_cart_page_costs_only_the_customer_query_whatever_its_lines(
    customer_client, customer, django_assert_num_queries, lines
):
    fill_cart(customer, lines, authors=[AuthorFactory(), AuthorFactory()])
    first = customer_client.get("/cart/")

    with django_assert_num_queries(1):  # the signed-in customer, for the header
        second = customer_client.get("/cart/")

    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit")
    assert second.content.decode().count('<li class="cart-line') == lines
    assert second["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize("lines", [1, 3, 40])
def test_an_anonymous_cart_page_costs_one_query_whatever_its_lines(client, django_assert_num_queries, lines, settings):
    settings.PAGE_CACHE_SECONDS = 0  # every view drawn from the lines
    for book in BookFactory.create_batch(lines, stock=20):
        client.post("/cart/add/", {"book_id": book.pk})
    client.get("/cart/")

    with django_assert_num_queries(1):
        html = client.get("/cart/").content.decode()

    assert html.count('<li class="cart-line') == lines


def test_one_query_reads_every_author_in_credit_order(customer, django_assert_num_queries):
    lead, second = AuthorFactory(name="Lead Writer"), AuthorFactory(name="Second Writer")
    two_authors = BookFactory(title="Two", authors=[lead, second])
    no_author = BookFactory(title="None", authors=[])
    for book in (two_authors, no_author):
        services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk)

    with django_assert_num_queries(1):
        contents = cart_contents(cart=customer_cart(customer.pk))
        names = {item.book.title: item.book.author_names for item in contents.items}

    assert names == {"Two": ["Lead Writer", "Second Writer"], "None": []}
    assert [item.book.title for item in contents.items] == ["None", "Two"]


# --- Lines kept and reused ---------------------------------------------------------------------


def test_a_second_view_draws_no_line_and_writes_nothing(customer_client, customer, draws, fragment_writes, settings):
    settings.PAGE_CACHE_SECONDS = 0  # the lines' own cache, beneath the kept page
    books = fill_cart(customer, 3)

    first = customer_client.get("/cart/").content.decode()
    second = customer_client.get("/cart/").content.decode()

    assert sorted(draws) == sorted(book.pk for book in books)
    assert [len(written) for written in fragment_writes] == [3]
    assert TOKEN_FIELD.sub("", first) == TOKEN_FIELD.sub("", second)


def test_another_cart_with_the_same_line_reuses_it(customer, other_customer, draws, settings):
    settings.PAGE_CACHE_SECONDS = 0  # the lines' own cache, beneath the kept page
    book = BookFactory(stock=20)
    for user in (customer, other_customer):
        services.cart_add_item(cart=customer_cart(user.pk), book_id=book.pk, quantity=2)

    for user in (customer, other_customer):
        browser = Client()
        browser.force_login(user)
        assert 'value="2"' in line_of(browser.get("/cart/").content.decode(), book)

    assert draws == [book.pk]


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (lambda book, cart: Book.objects.filter(pk=book.pk).update(price=Decimal("12.00")), "$24.00"),
        (lambda book, cart: Book.objects.filter(pk=book.pk).update(title="A New Title"), "A New Title"),
        (lambda book, cart: Inventory.objects.filter(book=book).update(stock_on_hand=1), "Only 1 left"),
        (
            lambda book, cart: Inventory.objects.filter(book=book).update(stock_on_hand=0),
            "Out of stock since you added it",
        ),
        (lambda book, cart: Inventory.objects.filter(book=book).update(stock_on_hand=3), 'max="3"'),
        (lambda book, cart: Author.objects.filter(books=book).update(name="Someone Else"), "Someone Else"),
        (lambda book, cart: services.cart_set_quantity(cart=cart, book_id=book.pk, quantity=5), 'value="5"'),
    ],
    ids=["price", "title", "short", "sold-out", "quantity-maximum", "author", "quantity"],
)
def test_a_line_is_drawn_again_when_what_it_shows_changes(customer_client, customer, draws, change, shown, settings):
    settings.PAGE_CACHE_SECONDS = 0  # the lines' own cache, beneath the kept page
    cart = customer_cart(customer.pk)
    changed, unchanged = BookFactory(title="Changed", price=Decimal("10.00"), stock=20), BookFactory(title="Same")
    for book in (changed, unchanged):
        services.cart_add_item(cart=cart, book_id=book.pk, quantity=2)
    customer_client.get("/cart/")
    draws.clear()

    change(changed, cart)
    html = customer_client.get("/cart/").content.decode()

    assert draws == [changed.pk]
    assert shown in line_of(html, changed)


def test_a_price_change_shows_the_old_price_and_the_new_total(
    customer_client, customer, django_capture_on_commit_callbacks
):
    (book,) = fill_cart(customer, 1, price=Decimal("10.00"))
    customer_client.get("/cart/")

    with django_capture_on_commit_callbacks(execute=True):  # the kept page is retired on commit
        catalog_services.books_adjust_price(book_ids=[book.pk], percent=Decimal("-25"))
    html = customer_client.get("/cart/").content.decode()

    assert "Price dropped from $10.00 since you added it." in line_of(html, book)
    assert '<p class="cart-line__total">$15.00</p>' in line_of(html, book)
    assert '<span class="cart-summary__total">$15.00</span>' in html
    assert "Some prices changed since you added the books." in html


def test_a_kept_line_holds_a_placeholder_and_no_token(customer_client, customer, fragment_writes):
    (book,) = fill_cart(customer, 1)

    html = customer_client.get("/cart/").content.decode()
    ((kept,),) = [written.values() for written in fragment_writes]

    # The quantity form and the remove form, each with the placeholder for a token.
    assert TOKEN_FIELD.findall(kept) == [CSRF_TOKEN_SLOT, CSRF_TOKEN_SLOT]
    assert CSRF_TOKEN_SLOT not in html
    assert TOKEN_FIELD.search(line_of(html, book)).group(1)


# --- Two visitors ------------------------------------------------------------------------------


def csrf_client(user) -> Client:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    return browser


def test_two_visitors_with_the_same_line_each_get_their_own_working_token(customer, other_customer, draws):
    shared, private = BookFactory(title="Shared Book", stock=20), BookFactory(title="Only Bob's", stock=20)
    for user, books in ((customer, [shared]), (other_customer, [shared, private])):
        for book in books:
            services.cart_add_item(cart=customer_cart(user.pk), book_id=book.pk, quantity=2)
    alice, bob = csrf_client(customer), csrf_client(other_customer)

    alice_page, bob_page = alice.get("/cart/").content.decode(), bob.get("/cart/").content.decode()
    alice_token = TOKEN_FIELD.search(line_of(alice_page, shared)).group(1)
    bob_token = TOKEN_FIELD.search(line_of(bob_page, shared)).group(1)
    refused = alice.post("/cart/update/", {"book_id": shared.pk, "quantity": "3", "csrfmiddlewaretoken": bob_token})
    accepted = alice.post("/cart/update/", {"book_id": shared.pk, "quantity": "3", "csrfmiddlewaretoken": alice_token})

    assert draws.count(shared.pk) == 1  # one kept line served both
    assert "Only Bob" not in alice_page
    assert alice_token != bob_token
    assert bob_token not in alice_page
    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert quantities(customer_cart(customer.pk)) == {shared.pk: 3}
    assert quantities(customer_cart(other_customer.pk)) == {shared.pk: 2, private.pk: 2}


def test_every_form_on_the_page_carries_a_token_that_works(customer):
    fill_cart(customer, 3)
    alice = csrf_client(customer)

    html = alice.get("/cart/").content.decode()
    lines_start = html.index('<ul class="cart-lines"')
    in_lines = TOKEN_FIELD.findall(html[lines_start : html.index("</ul>", lines_start)])
    tokens = TOKEN_FIELD.findall(html)  # the lines', "Empty cart" and "Log out"
    answers = [alice.post("/cart/clear/", {"csrfmiddlewaretoken": token}).status_code for token in tokens]

    assert len(in_lines) == 3 * 2  # the quantity form and the remove form of each line
    assert answers == [302] * len(tokens)
    assert quantities(customer_cart(customer.pk)) == {}


# --- Hostile text ------------------------------------------------------------------------------


def test_hostile_titles_and_authors_stay_escaped_in_a_kept_line(customer_client, customer):
    hostile = BookFactory(
        title=f'<script>alert("t")</script> {CSRF_TOKEN_SLOT}', authors=[AuthorFactory(name="<b>Mallory</b>")], stock=20
    )
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=hostile.pk)

    pages = [customer_client.get("/cart/").content.decode() for _ in range(2)]  # drawn, then kept

    for html in pages:
        line = line_of(html, hostile)
        assert "<script>" not in line
        assert "<b>" not in line
        assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in line
        assert "&lt;b&gt;Mallory&lt;/b&gt;" in line
        # A title that spells the placeholder is text, never a place for the token.
        assert "&lt;!--cart-line-csrf-token--&gt;" in line
        assert len(TOKEN_FIELD.findall(line)) == 2


@pytest.mark.parametrize("token", ["", "abc<def", 'x" onclick="y', "ab cd"])
def test_a_token_that_is_not_letters_and_digits_is_refused(customer, token):
    fill_cart(customer, 1)
    contents = cart_contents(cart=customer_cart(customer.pk))

    with pytest.raises(ValueError, match="letters, digits and underscores"):
        cart_lines_html(contents.items, csrf_token=token)


def test_no_lines_need_no_token():
    assert cart_lines_html([], csrf_token="") == ""


# --- Headers, outages, the embedded default --------------------------------------------------


@pytest.mark.parametrize("lines", [0, 2])
def test_the_cart_page_is_never_kept_by_a_cache(customer_client, customer, lines):
    fill_cart(customer, lines)

    response = customer_client.get("/cart/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-store"


def test_the_page_shows_every_line_when_the_fragments_cache_is_unreachable(customer_client, customer, settings):
    books = fill_cart(customer, 3)
    settings.CACHES = {
        **settings.CACHES,
        # A closed port: every read is a miss and every write is dropped (errors are ignored).
        "fragments": {**settings.CACHES["fragments"], "LOCATION": "redis://127.0.0.1:9/0"},
    }

    response = customer_client.get("/cart/")
    html = response.content.decode()

    assert response.status_code == 200
    for book in books:
        assert book.title in line_of(html, book)


def test_lines_are_kept_in_process_memory_without_redis(customer_client, customer, settings, draws):
    settings.CACHES = {
        **settings.CACHES,
        "fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"lines-{os.getpid()}"},
    }
    books = fill_cart(customer, 2)

    first = customer_client.get("/cart/").content.decode()
    second = customer_client.get("/cart/").content.decode()

    assert sorted(draws) == sorted(book.pk for book in books)
    assert TOKEN_FIELD.sub("", first) == TOKEN_FIELD.sub("", second)


def test_a_line_keeps_the_markup_the_styles_and_scripts_expect(customer_client, customer):
    book = BookFactory(title="Emma", price=Decimal("4.50"), stock=7, authors=[AuthorFactory(name="Jane Austen")])
    services.cart_add_item(cart=customer_cart(customer.pk), book_id=book.pk, quantity=2)

    line = line_of(customer_client.get("/cart/").content.decode(), book)

    assert line.startswith(f'<li class="cart-line" id="line-{book.pk}">')
    assert f'<a class="cart-line__cover" href="{book.get_absolute_url()}" tabindex="-1" aria-hidden="true">' in line
    assert f'<h2 class="cart-line__title"><a href="{book.get_absolute_url()}">Emma</a></h2>' in line
    assert '<p class="cart-line__author">Jane Austen</p>' in line
    assert '<p class="cart-line__price">$4.50 each</p>' in line
    assert '<form class="cart-line__quantity" method="post" action="/cart/update/">' in line
    assert f'<label for="quantity-{book.pk}">Quantity</label>' in line
    assert (
        f'<input id="quantity-{book.pk}" type="number" name="quantity" value="2" min="1" max="7"'
        ' inputmode="numeric" required>'
    ) in line
    assert '<span class="visually-hidden"> quantity of Emma</span>' in line
    assert '<form method="post" action="/cart/remove/">' in line
    assert '<button class="link-button" type="submit">Remove<span class="visually-hidden"> Emma</span></button>' in line
    assert '<p class="cart-line__total">$9.00</p>' in line
    assert "cart-line__note" not in line


def test_a_sold_out_line_has_no_quantity_form(customer_client, customer):
    (book,) = fill_cart(customer, 1)
    Inventory.objects.filter(book=book).update(stock_on_hand=0)

    line = line_of(customer_client.get("/cart/").content.decode(), book)

    assert line.startswith(f'<li class="cart-line cart-line--problem" id="line-{book.pk}">')
    assert '<p class="cart-line__quantity-fixed">Quantity 2</p>' in line
    assert 'cart-line__quantity"' not in line
    assert len(TOKEN_FIELD.findall(line)) == 1


# --- The kept page -----------------------------------------------------------------------------


def test_two_visitors_with_the_same_lines_share_the_kept_page_but_not_their_parts(customer, other_customer):
    book = BookFactory(stock=20)
    browsers = []
    for user in (customer, other_customer):
        services.cart_add_item(cart=customer_cart(user.pk), book_id=book.pk, quantity=2)
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(user)
        browsers.append(browser)

    pages = [browser.get("/cart/") for browser in browsers]

    assert [page["X-Page-Cache"] for page in pages] == ["miss", "hit"]
    for page, user, other in ((pages[0], customer, other_customer), (pages[1], other_customer, customer)):
        html = page.content.decode()
        assert f"Logged in as {user.username}" in html
        assert f"Logged in as {other.username}" not in html
        assert f">{other.username}<" not in html
        assert page["Cache-Control"] == "private, no-store"
    tokens = [set(TOKEN_FIELD.findall(page.content.decode())) for page in pages]
    assert tokens[0].isdisjoint(tokens[1])
    # Each visitor's token works for them.
    token = TOKEN_FIELD.search(pages[1].content.decode()).group(1)
    removed = browsers[1].post("/cart/remove/", {"book_id": book.pk, "csrfmiddlewaretoken": token})
    assert removed.status_code == 302


def test_changing_the_lines_gives_another_page(customer_client, customer):
    (book,) = fill_cart(customer, 1)
    customer_client.get("/cart/")

    services.cart_set_quantity(cart=customer_cart(customer.pk), book_id=book.pk, quantity=3)
    page = customer_client.get("/cart/")

    assert page["X-Page-Cache"] == "miss"
    assert 'value="3"' in line_of(page.content.decode(), book)


def test_a_stock_change_retires_the_kept_cart_page(customer_client, customer, django_capture_on_commit_callbacks):
    (book,) = fill_cart(customer, 1)
    customer_client.get("/cart/")

    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=0)
    page = customer_client.get("/cart/")

    assert page["X-Page-Cache"] == "miss"
    assert "Out of stock since you added it" in page.content.decode()


def test_viewing_the_kept_cart_page_still_restarts_the_carts_idle_clock(customer_client, customer, settings):
    from cart.store import get_store

    fill_cart(customer, 1)
    customer_client.get("/cart/")
    cart = customer_cart(customer.pk)
    store = get_store()
    store.client.expire(store.make_key(cart.key), 60)  # as if it had sat idle for weeks

    assert customer_client.get("/cart/")["X-Page-Cache"] == "hit"
    assert store.ttl(cart) > settings.CART_CUSTOMER_TTL_DAYS * 86400 - 60
