"""Cart operations on the production-shaped stack (gunicorn, Postgres, Redis) with 100,000 books.

Target (issue 3): add / set / remove p95 under 15 ms and the cart page p95 under 30 ms at
200 cart operations per second in total.

Setup: ``SESSIONS`` visitors, half anonymous and half signed-in customers, each with a few
books in the cart. Anonymous visitors are made as a browser makes them: GET a book page
(the CSRF cookie, when the page sets one: a page from the shared page cache sets no cookie,
and then the visitor makes its own token, which Django accepts as it would a browser's),
POST to /cart/add/ (the session cookie comes back). Customers get a
logged-in session written straight into the session store (no password hashing in the way)
and their carts emptied first, so every run starts alike. Then one open-loop mixed run sends
add (JSON, as the page script does), set quantity, remove and cart-page views at ``RATE``
per second, round-robin over the visitors (each sees about one request a second), and
reports the mix and each kind on its own.
"""

from __future__ import annotations

import http.client
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

import django

from bench.checks import run_watched, target_note
from bench.loadgen import Request, Result
from bench.targets import Target

RATE = float(os.environ.get("BENCH_CART_RATE", "200"))
DURATION = float(os.environ.get("BENCH_DURATION", "20"))
SESSIONS = int(os.environ.get("BENCH_CART_SESSIONS", "200"))
MIN_BOOKS = int(os.environ.get("BENCH_MIN_BOOKS", "100000"))
START_LINES = 3
MAX_LINES = 8
# The mix of one cart session: mostly adds and views, some quantity changes and removals.
MIX = [("add", 35), ("set", 20), ("remove", 15), ("cart page", 30)]
TARGETS = {
    "add": Target(max_p95_ms=15),
    "set": Target(max_p95_ms=15),
    "remove": Target(max_p95_ms=15),
    "cart page": Target(max_p95_ms=30),
}


@dataclass
class Visitor:
    cookie: str
    csrf_token: str
    lines: list[int] = field(default_factory=list)

    def headers(self, *, json: bool) -> tuple[tuple[str, str], ...]:
        headers = [("Cookie", self.cookie), ("X-CSRFToken", self.csrf_token)]
        if json:
            headers += [("Accept", "application/json"), ("Content-Type", "application/x-www-form-urlencoded")]
        return tuple(headers)


def books_in_stock() -> list[tuple[int, str]]:
    """(id, URL) of books with plenty of stock, so adds are never refused for stock."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    django.setup()
    from catalog.models import Book

    total = Book.objects.count()
    if total < MIN_BOOKS:
        raise SystemExit(f"the benchmark needs {MIN_BOOKS:,} books and the stack has {total:,}: run `make seed`")
    ids = list(Book.objects.filter(inventory__stock_on_hand__gte=100).order_by("?").values_list("id", flat=True)[:3000])
    return [(book.pk, book.get_absolute_url()) for book in Book.objects.filter(pk__in=ids).only("isbn13", "slug")]


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def anonymous_visitor(base_url: str, book_url: str) -> Visitor:
    """A visitor as a browser makes one: the CSRF cookie from a page, the session from the first add.

    A shared (cached) anonymous page sets no cookie; the visitor then picks its own CSRF
    secret, as Django accepts any well-formed ``csrftoken`` cookie matched by the header.
    """
    from django.utils.crypto import get_random_string

    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
    connection.request("GET", book_url)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"setup: GET {book_url} answered {response.status}")
    csrf = _cookies(response).get("csrftoken") or get_random_string(32)
    connection.close()
    return Visitor(cookie=f"csrftoken={csrf}", csrf_token=csrf)


def _customer_visitor(index: int) -> Visitor:
    """A signed-in customer: a session written into the session store, as a log-in would."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.auth.models import User
    from django.utils.crypto import get_random_string

    from cart.store import customer_cart, get_store

    user, created = User.objects.get_or_create(username=f"bench-cart-{index}")
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    get_store().clear(customer_cart(user.pk))
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    csrf = get_random_string(32)
    return Visitor(cookie=f"csrftoken={csrf}; sessionid={session.session_key}", csrf_token=csrf)


def cart_add(base_url: str, visitor: Visitor, book_id: int) -> None:
    """A setup add over HTTP; keeps the session cookie the first add of an anonymous visitor gets."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10)
    body = urlencode({"book_id": book_id})
    connection.request("POST", "/cart/add/", body=body, headers=dict(visitor.headers(json=True)))
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"setup: adding book {book_id} answered {response.status}")
    session = _cookies(response).get("sessionid")
    if session:
        visitor.cookie = f"csrftoken={visitor.csrf_token}; sessionid={session}"
    visitor.lines.append(book_id)
    connection.close()


def _visitors(base_url: str, books: list[tuple[int, str]], rng: random.Random) -> list[Visitor]:
    visitors = []
    for index in range(SESSIONS):
        customer = index % 2 == 1
        visitor = _customer_visitor(index) if customer else anonymous_visitor(base_url, rng.choice(books)[1])
        for book_id, _ in rng.sample(books, START_LINES):
            cart_add(base_url, visitor, book_id)
        visitors.append(visitor)
    return visitors


def _next_request(visitors: list[Visitor], book_ids: list[int], rng: random.Random) -> Callable[[int], Request]:
    """Requests that are valid for the visitor's cart as the generator last left it."""
    kinds = [kind for kind, _weight in MIX]
    weights = [weight for _kind, weight in MIX]

    def build(index: int) -> Request:
        visitor = visitors[index % len(visitors)]
        kind = rng.choices(kinds, weights)[0]
        if kind == "add" and len(visitor.lines) >= MAX_LINES:
            kind = "remove"
        if kind in ("set", "remove") and len(visitor.lines) <= 1:
            kind = "add"
        if kind == "cart page":
            return Request("/cart/", headers=visitor.headers(json=False), label=kind)
        if kind == "add":
            book_id = rng.choice(book_ids)
            while book_id in visitor.lines:
                book_id = rng.choice(book_ids)
            visitor.lines.append(book_id)
            body = {"book_id": book_id}
            path = "/cart/add/"
        elif kind == "set":
            body = {"book_id": rng.choice(visitor.lines), "quantity": rng.randint(1, 3)}
            path = "/cart/update/"
        else:
            book_id = rng.choice(visitor.lines)
            visitor.lines.remove(book_id)
            body = {"book_id": book_id}
            path = "/cart/remove/"
        return Request(path, "POST", urlencode(body).encode(), visitor.headers(json=True), label=kind)

    return build


def run(base_url: str) -> list[Result]:
    rng = random.Random(3)
    books = books_in_stock()
    visitors = _visitors(base_url, books, rng)
    mixed = run_watched(
        "cart: mixed operations",
        base_url,
        _next_request(visitors, [book_id for book_id, _ in books], rng),
        rate=RATE,
        duration_s=DURATION,
        connections=32,
    )
    kinds = []
    for kind, _ in MIX:
        if kind in mixed.by_label:
            result = mixed.by_label[kind]
            result.notes.append(target_note(result, TARGETS[kind]))
            kinds.append(result)
    return [mixed, *kinds]
