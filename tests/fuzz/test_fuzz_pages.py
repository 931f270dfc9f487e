"""No input gets a server error: every page's query parameters and every form's fields, fuzzed.

Hypothesis sends each endpoint hostile values (``tests/fuzz/inputs.py``: null bytes, lone
surrogates, ``²`` and Arabic-Indic digits, 10^30, -1, 1e309, 10,000-character strings,
JSON, HTML and SQL fragments, random text and bytes) under its own parameter names and
unknown ones, sometimes repeated 150 times, sometimes beside a valid form so the deeper
checks run; path segments too. As an anonymous visitor and as a signed-in customer with
a cart and a checkout address. Any answer is fine but a 5xx (a view that raises fails the
test with the shrunk example). The run's totals are printed at the end
(``tests/fuzz/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from catalog.models import Book
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, OrderFactory, ReviewFactory, UserFactory
from tests.fuzz.inputs import FUZZ_SETTINGS, TALLY, bad_values, encoded, urlencoded

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class World:
    """The catalog and the customer the fuzzed requests are about."""

    book: Book
    reviewed_book: Book
    customer_username: str
    review_id: int
    order_id: int

    @property
    def book_path(self) -> str:
        return self.book.get_absolute_url()


@pytest.fixture
def world() -> World:
    category = CategoryFactory(name="Fantasy")
    author = AuthorFactory(name="Ursula Le Guin")
    book = BookFactory(title="A Wizard of Earthsea", category=category, authors=[author])
    for number in range(12):  # more than one page of reviews
        ReviewFactory(book=book, rating=1 + number % 5)
    customer = UserFactory(username="alice")
    reviewed_book = BookFactory(title="The Dispossessed", category=category, authors=[author])
    review = ReviewFactory(book=reviewed_book, user=customer)
    order = OrderFactory(user=customer)
    return World(book, reviewed_book, customer.username, review.pk, order.pk)


@dataclass(frozen=True)
class Endpoint:
    """One page or form: its path (possibly with a fuzzed segment), its fields, a valid submission."""

    name: str
    method: str
    path: Callable[[World], st.SearchStrategy[str]]
    fields: tuple[str, ...] = ()
    valid: Callable[[World], dict[str, str]] = field(default=lambda world: {})


def fixed(build: Callable[[World], str]) -> Callable[[World], st.SearchStrategy[str]]:
    return lambda world: st.just(build(world))


def with_segment(build: Callable[[World, str], str], valid: Callable[[World], str]) -> Callable:
    """The path with its variable segment valid or fuzzed (percent-encoded, slashes included)."""
    return lambda world: st.one_of(
        st.just(build(world, valid(world))),
        bad_values.map(lambda value: build(world, encoded(value).replace("+", "%20") or "x")),
    )


LISTING = ("page", "sort")
SEARCH = ("q", "page", "sort", "category", "author", "price", "rating", "in_stock", "language", "decade")
ADDRESS = {
    "name": "Alice Reader",
    "line1": "1 Library Lane",
    "line2": "",
    "city": "Booktown",
    "region": "",
    "postal_code": "12345",
    "country": "GB",
}
CARD = {"card_number": "4242 4242 4242 4242", "card_expiry": "12/40", "card_cvc": "123"}
REVIEW = {"rating": "4", "title": "Timeless", "body": "Read it twice."}

ENDPOINTS = (
    Endpoint("home", "GET", fixed(lambda world: "/"), LISTING),
    Endpoint("book-list", "GET", fixed(lambda world: "/books/"), LISTING),
    Endpoint(
        "category",
        "GET",
        with_segment(lambda world, segment: f"/categories/{segment}/", lambda world: world.book.category.path),
        LISTING,
    ),
    Endpoint(
        "author",
        "GET",
        with_segment(lambda world, segment: f"/authors/{segment}/", lambda world: "ursula-le-guin"),
        LISTING,
    ),
    Endpoint(
        "book",
        "GET",
        with_segment(lambda world, segment: f"/books/{world.book.isbn13}/{segment}/", lambda world: world.book.slug),
        ("reviews_page",),
    ),
    Endpoint("book-short", "GET", fixed(lambda world: f"/books/{world.book.isbn13}/")),
    Endpoint("search", "GET", fixed(lambda world: "/search/"), SEARCH, lambda world: {"q": "wizard"}),
    Endpoint("autocomplete", "GET", fixed(lambda world: "/search/autocomplete"), ("q",), lambda world: {"q": "wiz"}),
    Endpoint("cart", "GET", fixed(lambda world: "/cart/")),
    Endpoint(
        "cart-add",
        "POST",
        fixed(lambda world: "/cart/add/"),
        ("book_id", "quantity", "next"),
        lambda world: {"book_id": str(world.book.pk), "quantity": "1", "next": world.book_path},
    ),
    Endpoint(
        "cart-update",
        "POST",
        fixed(lambda world: "/cart/update/"),
        ("book_id", "quantity", "next"),
        lambda world: {"book_id": str(world.book.pk), "quantity": "2"},
    ),
    Endpoint(
        "cart-remove",
        "POST",
        fixed(lambda world: "/cart/remove/"),
        ("book_id", "next"),
        lambda world: {"book_id": str(world.book.pk)},
    ),
    Endpoint("cart-clear", "POST", fixed(lambda world: "/cart/clear/"), ("next",)),
    Endpoint("checkout", "GET", fixed(lambda world: "/checkout/")),
    Endpoint("checkout-address", "POST", fixed(lambda world: "/checkout/"), tuple(ADDRESS), lambda world: ADDRESS),
    Endpoint("checkout-review", "GET", fixed(lambda world: "/checkout/review/")),
    Endpoint(
        "checkout-place",
        "POST",
        fixed(lambda world: "/checkout/place/"),
        ("idempotency_key", "expected_total", *CARD),
        lambda world: {"idempotency_key": "7f0c1e2a-9b7d-4c55-8e0b-3f6a2d1c9e44", "expected_total": "19.99"} | CARD,
    ),
    Endpoint("orders", "GET", fixed(lambda world: "/orders/"), ("page",)),
    Endpoint(
        "order",
        "GET",
        with_segment(lambda world, segment: f"/orders/{segment}/", lambda world: str(world.order_id)),
    ),
    Endpoint(
        "review-new",
        "POST",
        with_segment(lambda world, segment: f"/reviews/new/{segment}/", lambda world: world.book.isbn13),
        tuple(REVIEW),
        lambda world: REVIEW,
    ),
    Endpoint("review-new-form", "GET", fixed(lambda world: f"/reviews/new/{world.book.isbn13}/")),
    Endpoint(
        "review-edit",
        "POST",
        with_segment(lambda world, segment: f"/reviews/{segment}/edit/", lambda world: str(world.review_id)),
        tuple(REVIEW),
        lambda world: REVIEW,
    ),
    Endpoint("review-edit-form", "GET", fixed(lambda world: f"/reviews/{world.review_id}/edit/")),
    Endpoint("signup-form", "GET", fixed(lambda world: "/accounts/signup/"), ("next",)),
    Endpoint(
        "signup",
        "POST",
        fixed(lambda world: "/accounts/signup/"),
        ("username", "email", "password1", "password2", "next"),
        lambda world: {"username": "bob", "email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD},
    ),
    Endpoint("login-form", "GET", fixed(lambda world: "/accounts/login/"), ("next",)),
    Endpoint(
        "login",
        "POST",
        fixed(lambda world: "/accounts/login/"),
        ("username", "password", "next"),
        lambda world: {"username": world.customer_username, "password": "not the password"},
    ),
    Endpoint("password-reset-form", "GET", fixed(lambda world: "/accounts/password-reset/")),
    Endpoint(
        "password-reset",
        "POST",
        fixed(lambda world: "/accounts/password-reset/"),
        ("email",),
        lambda world: {"email": "alice@example.com"},
    ),
    Endpoint(
        "password-reset-confirm",
        "POST",
        with_segment(lambda world, segment: f"/accounts/reset/{segment}/set-password/", lambda world: "MQ"),
        ("new_password1", "new_password2"),
        lambda world: {"new_password1": PASSWORD, "new_password2": PASSWORD},
    ),
    Endpoint("password-reset-done", "GET", fixed(lambda world: "/accounts/password-reset/sent/")),
)

ACCEPT_HEADERS = st.one_of(st.sampled_from(["text/html", "application/json", "*/*", ""]), bad_values)


def parameters(endpoint: Endpoint, world: World) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Fuzzed ``(name, value)`` pairs: the endpoint's fields and unknown names with bad values,
    sometimes one field repeated many times, sometimes on top of a valid submission."""
    names = st.one_of(st.sampled_from((*endpoint.fields, "unknown")), bad_values) if endpoint.fields else bad_values
    fuzzed = st.one_of(
        st.lists(st.tuples(names, bad_values), max_size=6),
        st.tuples(names, bad_values, st.integers(2, 150)).map(lambda drawn: [(drawn[0], drawn[1])] * drawn[2]),
    )

    def on_valid(pairs: list[tuple[str, str]], keep_valid: bool) -> list[tuple[str, str]]:
        replaced = {name for name, _ in pairs}
        kept = [(name, value) for name, value in endpoint.valid(world).items() if name not in replaced]
        return kept + pairs if keep_valid else pairs

    return st.builds(on_valid, fuzzed, st.booleans())


def send(client: Client, method: str, path: str, pairs: list[tuple[str, str]], accept: str) -> int:
    """One request, the way a browser or script would send these bytes; its status is tallied."""
    body = urlencoded(pairs)
    headers = {"HTTP_ACCEPT": accept.encode("utf-8", "surrogatepass").decode("latin-1")}
    try:
        if method == "GET":
            response = client.get(f"{path}?{body}" if body else path, **headers)
        else:
            response = client.post(path, body.encode(), content_type="application/x-www-form-urlencoded", **headers)
    except Exception:
        TALLY.record(500)  # the view raised: in production, a 500
        raise
    TALLY.record(response.status_code)
    return response.status_code


def signed_in_customer(world: World) -> Client:
    """A customer's browser with a book in the cart and a shipping address: checkout pages render."""
    browser = Client()
    browser.login(username=world.customer_username, password="correct horse battery staple")
    browser.post("/cart/add/", {"book_id": world.book.pk, "quantity": 1})
    browser.post("/checkout/", ADDRESS)
    return browser


@pytest.mark.parametrize("persona", ["anonymous", "customer"])
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: f"{endpoint.method}-{endpoint.name}")
def test_no_bad_input_gets_a_server_error(endpoint, persona, world):
    customer = signed_in_customer(world) if persona == "customer" else None

    @FUZZ_SETTINGS
    @given(path=endpoint.path(world), pairs=parameters(endpoint, world), accept=ACCEPT_HEADERS)
    def bad_request_is_answered(path: str, pairs: list[tuple[str, str]], accept: str) -> None:
        # Visitors get a fresh browser each time (a sign-up or log-in must not carry over).
        status = send(customer or Client(), endpoint.method, path, pairs, accept)
        assert status < 500

    bad_request_is_answered()
