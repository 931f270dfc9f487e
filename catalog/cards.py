"""Book cards, rendered once per version of what they show and then reused.

A listing or a results page is mostly book cards (24 of them), and even built in Python
(``catalog.markup``) a card costs more than fetching its row. So each card's HTML is
kept in the ``fragments`` cache (``settings.CARD_CACHE_ALIAS``: Redis, shared by every
process, when there is one; else an in-process LRU) under a key that is a digest of
every value the card shows.

Nothing ever invalidates a card: a new price, stock level, rating, title or author gives
the book a new key, so a stale card cannot be served; the old entry expires after
``CARD_CACHE_SECONDS``. The source of the modules that draw a card is part of every
key too, so a deploy that changes the markup never serves cards in the old one.

Other apps add their controls to a card with ``register_card_action``, and to a book's
page with ``register_book_page_action`` (the cart adds its add-to-cart form to both), so
the catalog does not depend on them. Two parts of those
controls belong to the request, not to the book: the CSRF token and the page a form
returns to. The cached HTML holds placeholders for them, filled in on every render.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template import Context
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from catalog.markup import book_card_html
from catalog.models import Book
from cloudshelf.edge.page_cache import CSRF_TOKEN_SLOT, page_depends_on
from cloudshelf.edge.release import source_digest

# (book, CSRF token, path to return to) -> the control's HTML, e.g. a form.
CardAction = Callable[[Book, str, str], SafeString]
_card_actions: list[CardAction] = []
_book_page_actions: list[CardAction] = []

# Placeholders for the per-request parts; letters and underscores only, so escaping
# leaves them as they are. The CSRF placeholder is the page cache's, so a kept page fills
# its cards' tokens with the rest of the page.
NEXT_PATH_SLOT = "__CLOUDSHELF_CARD_NEXT_PATH__"


def register_card_action(action: CardAction) -> None:
    """Add a control to every book card (call once, from an ``AppConfig.ready``)."""
    if action not in _card_actions:
        _card_actions.append(action)
        _code_digest.cache_clear()


def register_book_page_action(action: CardAction) -> None:
    """Add a control to every book's page, beside its price (call once, from an ``AppConfig.ready``)."""
    if action not in _book_page_actions:
        _book_page_actions.append(action)


def book_page_actions_html(book: Book, *, csrf_token: str, next_path: str) -> SafeString:
    """The registered controls of ``book``'s page, in the order they were registered."""
    return SafeString("".join(action(book, csrf_token, next_path) for action in _book_page_actions))


def card_version(book: Book) -> str:
    """A digest of everything ``book``'s card shows (keep in step with ``catalog.markup.book_card_html``).

    ``book`` must come from ``books_in_order`` or ``Book.objects.for_listing()``.
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
        # The fetched copies the card links (names carry a digest of their bytes); none
        # while they are of an earlier cover_url.
        tuple(rendition.name for rendition in book.fetched_cover),
    )
    return hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()


@cache
def _code_digest() -> str:
    """A digest of the code that draws a card and the settings it reads (once per process)."""
    modules = {"catalog.cards", "catalog.markup", "catalog.covers"} | {action.__module__ for action in _card_actions}
    return source_digest(modules, settings.CATALOG_LOW_STOCK_THRESHOLD, settings.SITE_URL, settings.MEDIA_URL)


def _render_card(book: Book) -> str:
    actions = [action(book, CSRF_TOKEN_SLOT, NEXT_PATH_SLOT) for action in _card_actions]
    return str(book_card_html(book, actions=actions))


def context_csrf_token(context: Context) -> str | None:
    """The token ``{% csrf_token %}`` would write in this template context, or None for none."""
    token = context.get("csrf_token")
    text = str(token) if token else ""
    return text if text and text != "NOTPROVIDED" else None


def book_cards_html(books: Sequence[Book], *, request: HttpRequest, csrf_token: str | None = None) -> list[SafeString]:
    """The card of each of ``books`` (in order), from the cache where it holds them.

    ``csrf_token``: the page's token (the template context's ``csrf_token``), or None
    for this request's. Costs one ``get_many`` on the fragments cache, a render for each
    card it misses, and one ``set_many`` for those.
    """
    if not books:
        return []
    # A kept page showing these cards is retired when any of their books changes.
    page_depends_on(request, *(f"book:{book.pk}" for book in books))
    store = caches[settings.CARD_CACHE_ALIAS]
    prefix = f"card:{_code_digest()}:"
    keys = [prefix + card_version(book) for book in books]
    found = store.get_many(keys)
    missing = {key: _render_card(book) for key, book in zip(keys, books, strict=True) if key not in found}
    if missing:
        store.set_many(missing, timeout=settings.CARD_CACHE_SECONDS)
        found = {**found, **missing}  # a new dict: never fill in what the cache answered
    html = [found[key] for key in keys]
    if any(CSRF_TOKEN_SLOT in card for card in html):
        # As {% csrf_token %} would: the token, and a CSRF cookie set on the response.
        token = csrf_token or get_token(request)
        next_path = str(conditional_escape(request.get_full_path()))
        html = [card.replace(CSRF_TOKEN_SLOT, token).replace(NEXT_PATH_SLOT, next_path) for card in html]
    # Built with format_html (every value escaped); the filled-in values are escaped too.
    return [mark_safe(card) for card in html]
