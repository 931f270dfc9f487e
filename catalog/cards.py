"""Book cards, rendered once per version of what they show and then reused.

A listing or a results page is mostly book cards (24 of them), and rendering a card
through the template engine (cover, stars, price, stock badge, add-to-cart form) costs
far more than fetching its row. So each card's HTML is kept in the ``fragments`` cache
(``settings.CARD_CACHE_ALIAS``: an in-process LRU by default, no network, bounded by
``CARD_CACHE_ENTRIES``) under a key that is a digest of every value the card shows.

Nothing ever invalidates a card: a new price, stock level, rating, title or author
gives the book a new key, so a stale card cannot be served; the old entry simply ages
out of the LRU. A change to the card's templates changes every key too (their source
is part of the digest), so a deploy never serves cards in the old markup.

Two parts of a card belong to the request, not to the book: the CSRF token of the
add-to-cart form and the page the form returns to. The cached HTML holds placeholders
for them, filled in on every render.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import cast

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import Engine, engines
from django.template.backends.django import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from catalog.models import Book

CARD_TEMPLATE = "catalog/includes/book_card.html"
# Every template the card renders: editing one of them gives every card a new key.
CARD_TEMPLATES = (
    CARD_TEMPLATE,
    "catalog/includes/stars.html",
    "catalog/includes/stock_badge.html",
    "cart/includes/add_to_cart.html",
)
# Bump when Python code that shapes a card changes (catalog.covers, the shop tags).
CARD_CODE_VERSION = 1

# Placeholders for the per-request parts; letters and underscores only, so escaping
# leaves them as they are.
CSRF_TOKEN_SLOT = "__CLOUDSHELF_CARD_CSRF_TOKEN__"
NEXT_PATH_SLOT = "__CLOUDSHELF_CARD_NEXT_PATH__"


def card_version(book: Book) -> str:
    """A digest of everything ``book``'s card shows (keep in step with ``CARD_TEMPLATES``).

    ``book`` must come from ``Book.objects.for_listing()`` (authors and stock prefetched).
    """
    shown = (
        book.pk,
        book.isbn13,
        book.slug,
        book.title,
        tuple(book.author_names),
        str(book.average_rating),
        book.ratings_count,
        str(book.price),
        book.currency,
        book.stock_on_hand,
        book.cover_image.name if book.cover_image else "",
        book.cover_url,
    )
    return hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()


def django_engine() -> Engine:
    """The project's Django template engine (settings.TEMPLATES), not a bare default one."""
    return cast(DjangoTemplates, engines["django"]).engine


@cache
def _templates_digest() -> str:
    """A digest of the card templates' source and the settings they read (once per process)."""
    digest = hashlib.blake2b(digest_size=6)
    digest.update(f"{CARD_CODE_VERSION}:{settings.CATALOG_LOW_STOCK_THRESHOLD}".encode())
    for name in CARD_TEMPLATES:
        template, _origin = django_engine().find_template(name)
        digest.update(template.source.encode())
    return digest.hexdigest()


def _render_card(book: Book) -> str:
    context = {"book": book, "csrf_token": CSRF_TOKEN_SLOT, "next_path": NEXT_PATH_SLOT}
    return engines["django"].get_template(CARD_TEMPLATE).render(context)


def book_cards_html(books: Sequence[Book], *, request: HttpRequest) -> list[SafeString]:
    """The card of each of ``books`` (in order), from the cache where it holds them.

    Costs one ``get_many`` on the fragments cache, a template render for each card it
    misses, and one ``set_many`` for those.
    """
    if not books:
        return []
    store = caches[settings.CARD_CACHE_ALIAS]
    prefix = f"card:{_templates_digest()}:"
    keys = [prefix + card_version(book) for book in books]
    found = store.get_many(keys)
    missing = {key: _render_card(book) for key, book in zip(keys, books, strict=True) if key not in found}
    if missing:
        store.set_many(missing, timeout=settings.CARD_CACHE_SECONDS)
        found |= missing
    html = [found[key] for key in keys]
    if any(CSRF_TOKEN_SLOT in card for card in html):
        # As {% csrf_token %} would: the token, and a CSRF cookie set on the response.
        token = get_token(request)
        next_path = str(conditional_escape(request.get_full_path()))
        html = [card.replace(CSRF_TOKEN_SLOT, token).replace(NEXT_PATH_SLOT, next_path) for card in html]
    # Rendered by the template engine with autoescaping; the filled-in values are escaped.
    return [mark_safe(card) for card in html]
