"""Book cards rendered once per version of what they show (catalog.cards)."""

from decimal import Decimal

import pytest
from django.core.cache import caches
from django.middleware.csrf import get_token
from django.test import RequestFactory
from django.utils.html import format_html

from catalog import cards
from catalog.cards import CSRF_TOKEN_SLOT, NEXT_PATH_SLOT, book_cards_html, card_version, register_card_action
from catalog.models import Author, Book, Inventory
from catalog.selectors.pages import books_in_order
from tests.factories import AuthorFactory, BookFactory

pytestmark = pytest.mark.django_db


def empty_card_cache() -> None:
    store = caches["fragments"]
    # Redis: only the fragment keys (clear() would be FLUSHDB, other runs' keys included).
    delete_pattern = getattr(store, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern("card:*")
    else:
        store.clear()


@pytest.fixture(autouse=True)
def _empty_card_cache():
    empty_card_cache()
    yield
    empty_card_cache()


@pytest.fixture
def renders(monkeypatch):
    """The books whose card was rendered by the template engine (not taken from the cache)."""
    rendered: list[int] = []
    original = cards._render_card

    def counting(book: Book) -> str:
        rendered.append(book.pk)
        return original(book)

    monkeypatch.setattr(cards, "_render_card", counting)
    return rendered


def page_request(path: str = "/books/?page=2"):
    request = RequestFactory().get(path)
    request.COOKIES = {}
    return request


def fresh(book: Book) -> Book:
    (loaded,) = books_in_order([book.pk])
    return loaded


def test_a_card_is_rendered_once_and_then_reused(renders):
    first, second = BookFactory(), BookFactory()

    book_cards_html(books_in_order([first.pk, second.pk]), request=page_request())
    again = book_cards_html(books_in_order([second.pk, first.pk]), request=page_request())

    assert renders == [first.pk, second.pk]
    assert second.title in again[0]
    assert first.title in again[1]


def test_a_new_price_is_shown_at_once(renders):
    book = BookFactory(price=Decimal("10.00"))
    before = book_cards_html([fresh(book)], request=page_request())[0]

    Book.objects.filter(pk=book.pk).update(price=Decimal("12.50"))
    after = book_cards_html([fresh(book)], request=page_request())[0]

    assert "$10.00" in before
    assert "$12.50" in after
    assert "$10.00" not in after
    assert renders == [book.pk, book.pk]


@pytest.mark.parametrize(
    "change",
    [
        lambda book: Book.objects.filter(pk=book.pk).update(title="Another Title"),
        lambda book: Book.objects.filter(pk=book.pk).update(slug="another-slug"),
        lambda book: Book.objects.filter(pk=book.pk).update(average_rating=Decimal("3.10"), ratings_count=7),
        lambda book: Book.objects.filter(pk=book.pk).update(currency="EUR"),
        lambda book: Book.objects.filter(pk=book.pk).update(cover_url="https://covers.example.com/1.jpg"),
        lambda book: Inventory.objects.filter(book=book).update(stock_on_hand=0),
        lambda book: Inventory.objects.filter(book=book).update(stock_on_hand=2),
        lambda book: Author.objects.filter(books=book).update(name="Someone Else"),
    ],
    ids=["title", "slug", "rating", "currency", "cover", "sold-out", "low-stock", "author-renamed"],
)
def test_everything_a_card_shows_is_part_of_its_version(change):
    book = BookFactory(stock=10)
    before = card_version(fresh(book))

    change(book)

    assert card_version(fresh(book)) != before


def test_a_sold_out_book_gets_a_card_without_the_add_to_cart_form():
    book = BookFactory(stock=3)
    in_stock = book_cards_html([fresh(book)], request=page_request())[0]

    Inventory.objects.filter(book=book).update(stock_on_hand=0)
    sold_out = book_cards_html([fresh(book)], request=page_request())[0]

    assert "Only 3 left" in in_stock
    assert 'action="/cart/add/"' in in_stock
    assert "Out of stock" in sold_out
    assert "add-to-cart" not in sold_out


def test_each_request_gets_its_own_csrf_token_and_return_path(renders):
    book = BookFactory()
    first_request, second_request = page_request("/books/?page=2"), page_request("/search/?q=a&sort=price")

    first = book_cards_html([fresh(book)], request=first_request)[0]
    second = book_cards_html([fresh(book)], request=second_request)[0]

    assert renders == [book.pk]  # one render, two requests
    for html in (first, second):
        assert CSRF_TOKEN_SLOT not in html
        assert NEXT_PATH_SLOT not in html
    assert 'name="next" value="/books/?page=2"' in first
    assert 'name="next" value="/search/?q=a&amp;sort=price"' in second
    # The token is the request's own, and the response will set the CSRF cookie for it.
    assert f'value="{get_token(first_request)}"' not in second
    assert first_request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_hostile_text_stays_escaped_in_a_cached_card():
    book = BookFactory(title='<script>alert("t")</script>', authors=[AuthorFactory(name="<b>Mallory</b>")])
    request = page_request('/search/?q="><script>x</script>')

    html = book_cards_html([fresh(book)], request=request)[0] + book_cards_html([fresh(book)], request=request)[0]

    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in html


def extra_action(book, csrf_token, next_path):
    return format_html('<a class="wishlist" href="/wishlist/{}">Save</a>', book.pk)


def test_a_registered_action_appears_on_every_card_and_changes_every_key():
    book = BookFactory()
    before_digest = cards._code_digest()
    register_card_action(extra_action)
    try:
        html = book_cards_html([fresh(book)], request=page_request())[0]
        assert cards._code_digest() != before_digest  # this module's source is now part of the key
    finally:
        cards._card_actions.remove(extra_action)
        cards._code_digest.cache_clear()

    assert f'<a class="wishlist" href="/wishlist/{book.pk}">Save</a>' in html
    assert "add-to-cart" in html  # the cart's action is still there
    assert cards._code_digest() == before_digest


def test_a_setting_the_card_reads_is_part_of_every_key(settings):
    before = cards._code_digest()
    settings.CATALOG_LOW_STOCK_THRESHOLD = 99
    cards._code_digest.cache_clear()
    try:
        assert cards._code_digest() != before
    finally:
        cards._code_digest.cache_clear()


def test_no_books_cost_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert book_cards_html([], request=page_request()) == []


def test_the_add_to_cart_form_of_a_shared_page_works_with_csrf_checks(client, settings):
    """A visitor without a session gets the shared page (no token): the browser's same-origin proof suffices."""
    from django.test import Client

    book = BookFactory(stock=5)
    shopper = Client(enforce_csrf_checks=True)
    shopper.get("/books/")  # renders (and caches) the card
    page = shopper.get("/books/")  # the kept page: the same bytes for every visitor without a session
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]

    response = shopper.post(
        "/cart/add/",
        {"book_id": book.pk, "next": "/books/", "csrfmiddlewaretoken": token},
        headers={"Sec-Fetch-Site": "same-origin"},
    )

    assert token == ""
    assert response.status_code == 302
    assert response["Location"] == "/books/"


def test_a_card_on_a_page_for_a_visitor_with_a_session_carries_their_token(settings):
    from django.test import Client

    book = BookFactory(stock=5)
    shopper = Client(enforce_csrf_checks=True)
    shopper.post("/cart/add/", {"book_id": book.pk}, headers={"Sec-Fetch-Site": "same-origin"})
    page = shopper.get("/books/")
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]

    response = shopper.post("/cart/add/", {"book_id": book.pk, "next": "/books/", "csrfmiddlewaretoken": token})

    assert token
    assert response.status_code == 302
