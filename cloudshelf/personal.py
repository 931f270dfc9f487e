"""The personal parts of the site-wide layout (``templates/base.html``), as page-cache slots.

Each renders a small template with a plain context (no context processors, so it costs
a fraction of a page render): the account menu with the cart count, flash messages and
the footer's account links. Anonymous versions read nothing from the session or user.
See ``cloudshelf.edge.slots``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import get_template

from cloudshelf.edge.slots import register_slot


def _user(request: HttpRequest, personal: bool) -> Any:
    return request.user if personal else AnonymousUser()


CartCounter = Callable[[HttpRequest], "int | None"]
_cart_counter: CartCounter | None = None


def register_cart_counter(counter: CartCounter) -> None:
    """The cart app says how many items a visitor's cart holds (the project knows no app)."""
    global _cart_counter
    _cart_counter = counter


def _cart_count(request: HttpRequest, values: Mapping[str, Any]) -> int | None:
    if "cart_count" in values:  # the view already knows it (the cart page)
        count = values["cart_count"]
        return None if count is None else int(count)
    if hasattr(request, "known_cart_count"):  # read with the cart's lines (cart.http.cart_page_key)
        return int(request.known_cart_count)
    return None if _cart_counter is None else _cart_counter(request)


def account_nav(request: HttpRequest, argument: str, personal: bool, values: Mapping[str, Any]) -> str:
    """Log in / sign up, or the customer's name and log out; the cart link with its count."""
    match = request.resolver_match
    context: dict[str, Any] = {
        "request": request,
        "user": _user(request, personal),
        "is_cart_page": match is not None and match.view_name == "cart:detail",
        "cart_count": _cart_count(request, values) if personal else None,
    }
    if personal and context["user"].is_authenticated:
        context["csrf_token"] = get_token(request)
    return get_template("includes/account_nav.html").render(context)


def flash_messages(request: HttpRequest, argument: str, personal: bool, values: Mapping[str, Any]) -> str:
    """Messages left for this visitor (reading them marks them shown); none in a shell."""
    if not personal:
        return ""
    return get_template("includes/messages.html").render({"messages": get_messages(request)})


def footer_account(request: HttpRequest, argument: str, personal: bool, values: Mapping[str, Any]) -> str:
    """The footer's account links."""
    return get_template("includes/footer_account.html").render({"user": _user(request, personal)})


register_slot("account_nav", account_nav)
register_slot("messages", flash_messages)
register_slot("footer_account", footer_account)
