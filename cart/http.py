"""Which cart a request means: the customer's when logged in, else the session's."""

from __future__ import annotations

from django.http import HttpRequest

from cart.store import CartRef, anonymous_cart, customer_cart


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
