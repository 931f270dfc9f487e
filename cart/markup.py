"""The cart page's lines, built in Python and drawn once per version of what they show.

Through the template engine a cart line cost about 0.7 ms (a generated cover, two forms,
a dozen conditions and lookups), so a 40-line cart spent most of its time there. Built
with ``format_html`` (every value escaped, as autoescaping would) a line costs a fraction
of that, and each line's HTML is kept in the ``fragments`` cache
(``settings.CARD_CACHE_ALIAS``, like the book cards of ``catalog.cards``) under a digest
of every value it shows: the book's card version (title, authors, price, stock, cover…),
the quantity, the price when the line was last changed and the quantity field's maximum.
Nothing invalidates a line: a new price or stock level gives it a new key, and old
entries expire after ``CARD_CACHE_SECONDS``. The source of the modules that draw a line
is part of every key too, so a deploy that changes the markup never serves old lines.

The only per-request part of a line is the CSRF token of its two forms. The cached HTML
holds a placeholder for it, filled in for the whole list at once. The placeholder starts
with ``<``, which escaping turns into ``&lt;`` in any title, author or URL, so no text of
a book can ever be mistaken for it. Two carts with the same book, quantity and price seen
share a line: it holds nothing of either visitor but what its key already says.

Keep the markup in step with ``static/css/site.css`` and ``static/js/site.js``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.core.cache import caches
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from cart.selectors import CartItem
from catalog.cards import card_version
from catalog.markup import book_cover_html, money
from cloudshelf.edge.release import source_digest

# Stands for the CSRF token in cached lines (see the module docstring for why a "<").
CSRF_TOKEN_SLOT = "<!--cart-line-csrf-token-->"
_TOKEN_FIELD = mark_safe(f'<input type="hidden" name="csrfmiddlewaretoken" value="{CSRF_TOKEN_SLOT}">')

# The modules whose code draws a line; their source is part of every key.
_DRAWING_MODULES = ("cart.markup", "catalog.markup", "catalog.covers")


@cache
def _code_digest() -> str:
    """A digest of the code that draws a line and the settings it reads (once per process)."""
    return source_digest(
        _DRAWING_MODULES,
        settings.CART_MAX_QUANTITY_PER_LINE,
        settings.SITE_URL,
        settings.MEDIA_URL,
        settings.STORAGES["default"],
    )


def line_version(item: CartItem) -> str:
    """A digest of everything ``item``'s line shows (keep in step with ``cart_line_html``).

    ``card_version`` covers the book's side (title, slug, authors, price, currency, stock,
    cover); the rest is the line's own. ``item.book`` must come from ``cart_contents``.
    """
    shown = (card_version(item.book), item.quantity, str(item.price_seen), item.max_quantity)
    return hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()


def _price_note(item: CartItem) -> SafeString | str:
    if item.price_went_up:
        text, tone = "Price went up from {} since you added it.", "warn"
    elif item.price_went_down:
        text, tone = "Price dropped from {} since you added it.", "ok"
    else:
        return ""
    sentence = format_html(text, money(item.price_seen, item.book.currency))
    return format_html('\n    <p class="cart-line__note cart-line__note--{}">{}</p>', tone, sentence)


def _stock_note(item: CartItem) -> SafeString | str:
    if item.is_out_of_stock:
        return mark_safe(
            '\n    <p class="cart-line__note cart-line__note--error">'
            "Out of stock since you added it. Remove it to check out.</p>"
        )
    if item.is_short:
        return format_html(
            '\n    <p class="cart-line__note cart-line__note--error">'
            "Only {} left: lower the quantity to check out.</p>",
            item.book.stock_on_hand,
        )
    return ""


def _quantity_control(item: CartItem) -> SafeString:
    """The quantity form, or the fixed quantity of a line that is out of stock."""
    book = item.book
    if item.is_out_of_stock:
        return format_html('<p class="cart-line__quantity-fixed">Quantity {}</p>', item.quantity)
    return format_html(
        '<form class="cart-line__quantity" method="post" action="{}">\n'
        "      {}\n"
        '      <input type="hidden" name="book_id" value="{}">\n'
        '      <label for="quantity-{}">Quantity</label>\n'
        '      <input id="quantity-{}" type="number" name="quantity" value="{}" min="1" max="{}"'
        ' inputmode="numeric" required>\n'
        '      <button class="button button--ghost button--small" type="submit">'
        'Update<span class="visually-hidden"> quantity of {}</span></button>\n'
        "    </form>",
        reverse("cart:update"),
        _TOKEN_FIELD,
        book.pk,
        book.pk,
        book.pk,
        item.quantity,
        item.max_quantity,
        book.title,
    )


def cart_line_html(item: CartItem) -> SafeString:
    """One line of the cart page, with ``CSRF_TOKEN_SLOT`` where its forms' token goes."""
    book = item.book
    book_url = book.get_absolute_url()
    names = book.author_names
    authors = format_html('\n    <p class="cart-line__author">{}</p>', ", ".join(names)) if names else ""
    return format_html(
        '<li class="cart-line{}" id="line-{}">\n'
        '  <a class="cart-line__cover" href="{}" tabindex="-1" aria-hidden="true">{}</a>\n'
        '  <div class="cart-line__main">\n'
        '    <h2 class="cart-line__title"><a href="{}">{}</a></h2>{}\n'
        '    <p class="cart-line__price">{} each</p>{}{}\n'
        "  </div>\n"
        '  <div class="cart-line__actions">\n'
        "    {}\n"
        '    <form method="post" action="{}">\n'
        "      {}\n"
        '      <input type="hidden" name="book_id" value="{}">\n'
        '      <button class="link-button" type="submit">Remove<span class="visually-hidden"> {}</span></button>\n'
        "    </form>\n"
        "  </div>\n"
        '  <p class="cart-line__total">{}</p>\n'
        "</li>",
        " cart-line--problem" if item.is_out_of_stock or item.is_short else "",
        book.pk,
        book_url,
        book_cover_html(book, "cover cover--small"),
        book_url,
        book.title,
        authors,
        money(item.unit_price, book.currency),
        _price_note(item),
        _stock_note(item),
        _quantity_control(item),
        reverse("cart:remove"),
        _TOKEN_FIELD,
        book.pk,
        book.title,
        money(item.line_total, book.currency),
    )


def cart_lines_html(items: Sequence[CartItem], *, csrf_token: str) -> SafeString:
    """Every line of the cart page, in order, with this request's ``csrf_token`` filled in.

    Costs one ``get_many`` on the fragments cache, a draw for each line it misses and one
    ``set_many`` for those; the same whatever the lines when they are all kept. When the
    cache is down (its errors are misses) every line is drawn, so the page still shows.
    """
    if not items:
        return SafeString("")
    if not csrf_token.replace("_", "").isalnum():
        # The token goes into HTML unescaped; Django's tokens are letters and digits (the
        # page cache's placeholder for one, letters and underscores).
        raise ValueError("a CSRF token is letters, digits and underscores")
    store = caches[settings.CARD_CACHE_ALIAS]
    prefix = f"cart-line:{_code_digest()}:"
    keys = [prefix + line_version(item) for item in items]
    found = store.get_many(keys)
    missing = {key: str(cart_line_html(item)) for key, item in zip(keys, items, strict=True) if key not in found}
    if missing:
        store.set_many(missing, timeout=settings.CARD_CACHE_SECONDS)
        found = {**found, **missing}  # a new dict: never fill in what the cache answered
    html = "\n".join(found[key] for key in keys)
    # Every value in a line was escaped when it was drawn; the token is letters and digits.
    return mark_safe(html.replace(CSRF_TOKEN_SLOT, csrf_token))
