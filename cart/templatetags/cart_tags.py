"""``{% load cart_tags %}``: the add-to-cart control for book pages and cards."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from catalog.models import Book

register = template.Library()


@register.inclusion_tag("cart/includes/add_to_cart.html", takes_context=True)
def add_to_cart(context: template.Context, book: Book, *, compact: bool = False) -> dict[str, Any]:
    """A form that adds ``book`` to the cart (nothing for a book out of stock).

    ``compact`` (book cards) leaves out the quantity field. The form posts back to the page
    it is on, so without JavaScript the customer stays where they were (a cached book card
    passes ``next_path``, a placeholder it fills in per request: see ``catalog.cards``).
    """
    request = context.get("request")
    return {
        "book": book,
        "compact": compact,
        "next_path": context.get("next_path") or (request.get_full_path() if request else ""),
        "max_quantity": max(1, min(settings.CART_MAX_QUANTITY_PER_LINE, book.stock_on_hand)),
    }
