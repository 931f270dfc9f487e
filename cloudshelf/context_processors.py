"""Template context shared by every page."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def site(request: HttpRequest) -> dict[str, str]:
    """Expose the site name and the absolute base URL used for canonical and Open Graph links."""
    return {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}


def cart(request: HttpRequest) -> dict[str, Any]:
    """The number of items in the visitor's cart, for the header link.

    Lazy, so only pages that show it ask; then it costs one Redis call and no SQL query
    (``None`` when the cart store is down: the header shows the link without a count).
    """
    from cart.http import request_cart
    from cart.selectors import cart_count

    return {"cart_count": SimpleLazyObject(lambda: cart_count(cart=request_cart(request)))}
