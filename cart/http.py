"""Which cart a request means: the customer's when logged in, else the session's."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest

from cart.store import CartRef, CartStoreUnavailable, anonymous_cart, customer_cart, get_store


def request_cart(request: HttpRequest, *, create: bool = False) -> CartRef | None:
    """The cart of whoever sent ``request``; ``None`` for a visitor without a session.

    With ``create``, a visitor without a session gets one (the first add to an anonymous
    cart): the session is saved at once to learn its key, and is not empty, so the session
    middleware sends its cookie with the response.
    """
    if request.user.is_authenticated:
        return customer_cart(request.user.pk)
    session = request.session
    if session.session_key is None:
        if not create:
            return None
        session["has_cart"] = True
        session.save()
    assert session.session_key is not None
    return anonymous_cart(session.session_key)


def creates_anonymous_cart(request: HttpRequest) -> bool:
    """Whether a cart write from ``request`` would make a new anonymous cart (and session).

    These are what a cookieless flood makes, each costing durable Redis memory, so they
    are what ``CARTS_PER_ADDRESS_HOUR`` counts (see ``cart.views``).
    """
    return not request.user.is_authenticated and request.session.session_key is None


def cart_page_key(request: HttpRequest) -> str:
    """What the cart page shows besides the books' own data: its lines (the page cache's ``key_extra``).

    Reading the lines restarts the cart's idle clock, as looking at the cart always has.
    The page is made of the lines and the data of their books (each a page-cache tag), so
    two visitors with the same lines share a kept page (their personal parts are slots).
    The number of items is left on the request for the header's count.
    """
    cart = request_cart(request)
    if cart is None:
        return "no-cart"
    try:
        lines = get_store().lines(cart, refresh=True)
    except CartStoreUnavailable:
        return "unavailable"  # the page answers 503, which is never kept
    request.known_cart_count = sum(line.quantity for line in lines.values())  # type: ignore[attr-defined]
    described = repr(sorted((book_id, line.quantity, str(line.price_seen)) for book_id, line in lines.items()))
    return hashlib.blake2b(described.encode(), digest_size=16).hexdigest()


def request_cart_count(request: HttpRequest) -> int | None:
    """Items in this visitor's cart (0 without one, ``None`` when the store is down): the menu's count."""
    from cart.selectors import cart_count

    return cart_count(cart=request_cart(request))
