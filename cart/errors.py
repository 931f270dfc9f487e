"""The HTTP status of each ``CartError``: one table for the shop's JSON answers and the partner API.

By what is at fault: the input (400), a line that is not there (404), the state of the
cart, the stock or the prices (409: the same request may succeed once that changes), or
the cart store (503, retry shortly). A code not listed is a conflict.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cart.services import CartError

# Keyed by the codes of ``cart.services.ERROR_MESSAGES``.
CART_ERROR_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "unknown_book": 400,
        "invalid_quantity": 400,
        "not_in_cart": 404,
        "line_limit": 409,
        "line_max_quantity": 409,
        "out_of_stock": 409,
        "not_enough_stock": 409,
        "empty_cart": 409,
        "insufficient_stock": 409,
        "book_gone": 409,
        "books_gone": 409,
        "mixed_currencies": 409,
        "price_changed": 409,
        "payment_declined": 409,
        "payments_unavailable": 503,
        "unavailable": 503,
    }
)


def cart_error_status(error: CartError) -> int:
    """The HTTP status that answers ``error``."""
    return CART_ERROR_STATUS.get(error.code, 409)
