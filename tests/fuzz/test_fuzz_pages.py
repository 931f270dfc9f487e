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
from tests.fuzz.inputs import FUZZ_SETTINGS, HOSTILE_VALUES, TALLY, bad_values, encoded, urlencoded

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
    """One page or form: its path (possibly with a variable segment), its fields, a valid submission.

    ``segment`` gives the valid value of the path's variable segment (None: the path has
    none); ``sweep_as`` is who the fixed sweep sends as (sign-up and log-in redirect a
    signed-in customer before reading anything); ``personas`` who Hypothesis sends as.
    """

    name: str
    method: str
    build_path: Callable[[World, str], str]
    fields: tuple[str, ...] = ()
    valid: Callable[[World], dict[str, str]] = field(default=lambda world: {})
    segment: Callable[[World], str] | None = None
    sweep_as: str = "customer"
    personas: tuple[str, ...] = ("anonymous", "customer")

    def path(self, world: World, segment: str | None = None) -> str:
        """The path with ``segment`` (raw text, percent-encoded here) or the valid one."""
        if self.segment is None:
            return self.build_path(world, "")
        if segment is None:
            return self.build_path(world, self.segment(world))
        return self.build_path(world, encoded(segment).replace("+", "%20") or "x")

    def paths(self, world: World) -> st.SearchStrategy[str]:
        """The valid path, or (with a variable segment) one with a fuzzed segment, slashes included."""
        if self.segment is None:
            return st.just(self.path(world))
        return st.one_of(st.just(self.path(world)), bad_values.map(lambda value: self.path(world, value)))


def fixed(path: str | Callable[[World], str]) -> Callable[[World, str], str]:
    return (lambda world, segment: path) if isinstance(path, str) else (lambda world, segment: path(world))


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
    Endpoint("home", "GET", fixed("/"), LISTING),
    Endpoint("book-list", "GET", fixed("/books/"), LISTING),
    Endpoint(
        "category",
        "GET",
        lambda world, segment: f"/categories/{segment}/",
        LISTING,
        segment=lambda world: world.book.category.path,
    ),
    Endpoint(
        "author",
        "GET",
        lambda world, segment: f"/authors/{segment}/",
        LISTING,
        segment=lambda world: "ursula-le-guin",
    ),
    Endpoint(
        "book",
        "GET",
        lambda world, segment: f"/books/{world.book.isbn13}/{segment}/",
        ("reviews_page",),
        segment=lambda world: world.book.slug,
    ),
    Endpoint("book-short", "GET", fixed(lambda world: f"/books/{world.book.isbn13}/")),
    Endpoint("search", "GET", fixed("/search/"), SEARCH, lambda world: {"q": "wizard"}),
    Endpoint("autocomplete", "GET", fixed("/search/autocomplete"), ("q",), lambda world: {"q": "wiz"}),
    Endpoint("cart", "GET", fixed("/cart/")),
    Endpoint(
        "cart-add",
        "POST",
        fixed("/cart/add/"),
        ("book_id", "quantity", "next"),
        lambda world: {"book_id": str(world.book.pk), "quantity": "1", "next": world.book_path},
    ),
    Endpoint(
        "cart-update",
        "POST",
        fixed("/cart/update/"),
        ("book_id", "quantity", "next"),
        lambda world: {"book_id": str(world.book.pk), "quantity": "2"},
    ),
    Endpoint(
        "cart-remove",
        "POST",
        fixed("/cart/remove/"),
        ("book_id", "next"),
        lambda world: {"book_id": str(world.book.pk)},
    ),
    Endpoint("cart-clear", "POST", fixed("/cart/clear/"), ("next",)),
    Endpoint("checkout", "GET", fixed("/checkout/")),
    Endpoint("checkout-address", "POST", fixed("/checkout/"), tuple(ADDRESS), lambda world: ADDRESS),
    Endpoint("checkout-review", "GET", fixed("/checkout/review/")),
    Endpoint(
        "checkout-place",
        "POST",
        fixed("/checkout/place/"),
        ("idempotency_key", "expected_total", *CARD),
        lambda world: {"idempotency_key": "7f0c1e2a-9b7d-4c55-8e0b-3f6a2d1c9e44", "expected_total": "19.99"} | CARD,
    ),
    Endpoint("orders", "GET", fixed("/orders/"), ("page",)),
    Endpoint(
        "order",
        "GET",
        lambda world, segment: f"/orders/{segment}/",
        segment=lambda world: str(world.order_id),
    ),
    Endpoint(
        "review-new",
        "POST",
        lambda world, segment: f"/reviews/new/{segment}/",
        tuple(REVIEW),
        lambda world: REVIEW,
        segment=lambda world: world.book.isbn13,
    ),
    Endpoint("review-new-form", "GET", fixed(lambda world: f"/reviews/new/{world.book.isbn13}/")),
    Endpoint(
        "review-edit",
        "POST",
        lambda world, segment: f"/reviews/{segment}/edit/",
        tuple(REVIEW),
        lambda world: REVIEW,
        segment=lambda world: str(world.review_id),
    ),
    Endpoint("review-edit-form", "GET", fixed(lambda world: f"/reviews/{world.review_id}/edit/")),
    Endpoint("signup-form", "GET", fixed("/accounts/signup/"), ("next",), sweep_as="anonymous"),
    Endpoint(
        "signup",
        "POST",
        fixed("/accounts/signup/"),
        ("username", "email", "password1", "password2", "next"),
        lambda world: {"username": "bob", "email": "bob@example.com", "password1": PASSWORD, "password2": PASSWORD},
        sweep_as="anonymous",
    ),
    Endpoint("login-form", "GET", fixed("/accounts/login/"), ("next",), sweep_as="anonymous"),
    Endpoint(
        "login",
        "POST",
        fixed("/accounts/login/"),
        ("username", "password", "next"),
        lambda world: {"username": world.customer_username, "password": "not the password"},
        sweep_as="anonymous",
    ),
    Endpoint("password-reset-form", "GET", fixed("/accounts/password-reset/")),
    Endpoint(
        "password-reset",
        "POST",
        fixed("/accounts/password-reset/"),
        ("email",),
        lambda world: {"email": "alice@example.com"},
        sweep_as="anonymous",
    ),
    Endpoint(
        "password-reset-confirm",
        "POST",
        lambda world, segment: f"/accounts/reset/{segment}/set-password/",
        ("new_password1", "new_password2"),
        lambda world: {"new_password1": PASSWORD, "new_password2": PASSWORD},
        segment=lambda world: "MQ",
        sweep_as="anonymous",
    ),
    Endpoint("password-reset-done", "GET", fixed("/accounts/password-reset/sent/")),
    Endpoint(
        "password-reset-link",
        "GET",
        lambda world, segment: f"/accounts/reset/MQ/{segment}/",
        segment=lambda world: "set-password",
        sweep_as="anonymous",
    ),
    # Only fresh visitors log out: the customer's browser stays signed in for its other examples.
    Endpoint("logout", "POST", fixed("/accounts/logout/"), ("next",), sweep_as="anonymous", personas=("anonymous",)),
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


@pytest.mark.parametrize(
    ("endpoint", "persona"),
    [
        pytest.param(endpoint, persona, id=f"{endpoint.method}-{endpoint.name}-{persona}")
        for endpoint in ENDPOINTS
        for persona in endpoint.personas
    ],
)
def test_no_bad_input_gets_a_server_error(endpoint, persona, world):
    customer = signed_in_customer(world) if persona == "customer" else None

    @FUZZ_SETTINGS
    @given(path=endpoint.paths(world), pairs=parameters(endpoint, world), accept=ACCEPT_HEADERS)
    def bad_request_is_answered(path: str, pairs: list[tuple[str, str]], accept: str) -> None:
        # Visitors get a fresh browser each time (a sign-up or log-in must not carry over).
        status = send(customer or Client(), endpoint.method, path, pairs, accept)
        assert status < 500

    bad_request_is_answered()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: f"{endpoint.method}-{endpoint.name}")
def test_every_hostile_value_in_every_field_and_path_segment_is_answered(endpoint, world):
    """The fixed sweep: each hostile value once in all of the endpoint's fields at once (on top
    of a valid submission, so every field's own check runs) and once as its path segment."""
    failures: list[str] = []

    def attempt(client: Client, path: str, pairs: list[tuple[str, str]]) -> None:
        try:
            status = send(client, endpoint.method, path, pairs, "text/html")
        except Exception as error:  # noqa: BLE001 (the test client re-raises whatever the view raised: collect them all)
            failures.append(f"{path} {pairs!r:.200}: {error!r:.200}")
        else:
            if status >= 500:
                failures.append(f"{path} {pairs!r:.200}: {status}")

    customer = signed_in_customer(world) if endpoint.sweep_as == "customer" else None
    valid = list(endpoint.valid(world).items())
    for value in HOSTILE_VALUES:
        client = customer or Client()
        if endpoint.fields:
            replaced = [(name, value) for name in endpoint.fields]
            attempt(client, endpoint.path(world), [pair for pair in valid if pair[0] not in endpoint.fields] + replaced)
        if endpoint.segment is not None:
            attempt(client, endpoint.path(world, value), valid)
        if not endpoint.fields and endpoint.segment is None:
            attempt(client, endpoint.path(world), [("unknown", value)])

    assert failures == []
