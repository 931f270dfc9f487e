"""The add-to-cart control for book pages and cards, which the catalog shows without knowing the cart.

The control is a plain form POST that works without JavaScript (the view redirects back
with a message); static/js/site.js sends it with fetch instead and updates the header
count without a reload. It is built in Python because every book card carries one:
``CartConfig.ready`` registers it with ``catalog.cards`` as a card action and as a book
page action.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from cart.store import CartLimits
from catalog.models import Book


def add_to_cart_form(book: Book, *, csrf_token: str, next_path: str, compact: bool = False) -> SafeString:
    """A form that adds ``book`` to the cart, returning to ``next_path`` (empty for a book out of stock).

    ``compact`` (book cards) leaves out the quantity field.
    """
    if not book.is_in_stock:
        return SafeString("")
    token_field = (
        format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', csrf_token)
        if csrf_token and csrf_token != "NOTPROVIDED"
        else ""
    )
    quantity_field = (
        ""
        if compact
        else format_html(
            '<label class="add-to-cart__quantity">Quantity\n'
            '      <input type="number" name="quantity" value="1" min="1" max="{}" inputmode="numeric" required>\n'
            "    </label>\n  ",
            CartLimits.from_settings().line_quantity_limit(stock=book.stock_on_hand),
        )
    )
    return format_html(
        '<form class="add-to-cart{}" method="post" action="{}" data-add-to-cart>\n'
        "  {}\n"
        '  <input type="hidden" name="book_id" value="{}">\n'
        '  <input type="hidden" name="next" value="{}">\n'
        "  {}"
        '<button class="button{}" type="submit">Add to cart<span class="visually-hidden">: {}</span></button>\n'
        '  <p class="add-to-cart__status" role="status" aria-live="polite" data-add-to-cart-status></p>\n'
        "</form>",
        " add-to-cart--compact" if compact else "",
        reverse("cart:add"),
        token_field,
        book.pk,
        next_path,
        quantity_field,
        " button--small" if compact else "",
        book.title,
    )


def card_add_to_cart(book: Book, csrf_token: str, next_path: str) -> SafeString:
    """The compact form on a book card (a ``catalog.cards`` card action)."""
    return add_to_cart_form(book, csrf_token=csrf_token, next_path=next_path, compact=True)


def book_page_add_to_cart(book: Book, csrf_token: str, next_path: str) -> SafeString:
    """The form with a quantity on a book's page (a ``catalog.cards`` book page action)."""
    return add_to_cart_form(book, csrf_token=csrf_token, next_path=next_path)
