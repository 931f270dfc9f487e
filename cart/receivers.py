"""Signal receivers: they only call services (connected in ``CartConfig.ready``)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest

from cart import services
from cart.store import anonymous_cart, customer_cart

logger = logging.getLogger(__name__)


def merge_cart_on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Move the visitor's anonymous cart into their customer cart as they log in.

    ``login()`` has already given the session a new key by now, so the anonymous cart is
    found through the session cookie the browser sent with this request. A cart outage
    never stops a log-in: the anonymous cart is simply left behind (and expires).
    """
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME) if request is not None else None
    if not session_key or request is None:
        return
    try:
        outcome = services.cart_merge(source=anonymous_cart(session_key), target=customer_cart(user.pk))
    except services.CartError as error:
        logger.warning("cart merge on login failed for user %s: %s", user.pk, error)
        return
    if outcome.reduced_lines:
        messages.warning(
            request,
            "We added the books from before you logged in to your cart, with some quantities reduced to what is "
            "in stock.",
            fail_silently=True,
        )
    elif outcome.merged_lines:
        messages.info(request, "We added the books from before you logged in to your cart.", fail_silently=True)
