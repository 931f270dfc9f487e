"""Template helpers for the shop pages: prices, stars, stock badges, covers and SEO data.

Load with ``{% load shop %}``. Formatting lives here, not in models or views, so every
page shows a price, a rating or a stock level the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_info

from catalog import selectors
from catalog.cards import book_cards_html
from catalog.covers import cover_svg
from catalog.models import Book

register = template.Library()

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥", "INR": "₹"}
# ISO 4217 currencies without minor units: ¥1,200, not ¥1,200.00.
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}


@register.simple_tag
def money(amount: Decimal | int | None, currency: str = "USD") -> str:
    """A price as customers read it: ``$1,234.50``, ``€9.99``, ``¥1,200``, ``12.00 CHF``."""
    if amount is None:
        return ""
    digits = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    rounded = Decimal(amount).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    number = f"{rounded:,.{digits}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number}\u00a0{currency}"


def rating_label(average: Decimal | float, count: int) -> str:
    """The sentence a screen reader hears for a star rating."""
    if not count:
        return "No ratings yet"
    noun = "rating" if count == 1 else "ratings"
    return f"Rated {Decimal(average):.1f} out of 5 from {count:,} {noun}"


@register.inclusion_tag("catalog/includes/stars.html")
def stars(average: Decimal | float, count: int, *, compact: bool = False) -> dict[str, Any]:
    """Five stars filled to ``average``, labelled for screen readers, with the count beside them."""
    value = Decimal(average or 0)
    return {
        "label": rating_label(value, count),
        "average": f"{value:.1f}",
        "percent": f"{min(max(value, Decimal(0)), Decimal(5)) * 20:.1f}",
        "count": count,
        "compact": compact,
    }


@register.inclusion_tag("catalog/includes/stars.html")
def review_stars(rating: int) -> dict[str, Any]:
    """One customer's star rating: stars only, labelled "Rated 4 out of 5"."""
    value = Decimal(min(max(rating, 0), 5))
    return {"label": f"Rated {rating} out of 5", "percent": f"{value * 20:.1f}", "count": 1, "single": True}


@register.inclusion_tag("catalog/includes/stock_badge.html")
def stock_badge(book: Book) -> dict[str, Any]:
    """ "In stock", "Only 3 left" or "Out of stock", with a colour class to match."""
    if not book.is_in_stock:
        return {"label": "Out of stock", "state": "out"}
    if book.is_low_stock:
        return {"label": f"Only {book.stock_on_hand} left", "state": "low"}
    return {"label": "In stock", "state": "in"}


def cover_image_url(book: Book) -> str:
    """The book's real cover image as an absolute URL, or ``""`` when it has none."""
    if book.cover_image:
        url = book.cover_image.url
        return f"{settings.SITE_URL}{url}" if url.startswith("/") else url
    return book.cover_url


@register.simple_tag
def book_cover(book: Book, css_class: str = "cover", loading: str = "lazy") -> SafeString:
    """The book's cover image if it has one, else a generated SVG cover (see ``catalog.covers``)."""
    lead_author = next(iter(book.author_names), "")
    image_url = cover_image_url(book)
    if image_url:
        alt = f"Cover of {book.title}" + (f" by {lead_author}" if lead_author else "")
        return format_html(
            '<img class="{}" src="{}" alt="{}" loading="{}" decoding="async" width="200" height="300">',
            css_class,
            image_url,
            alt,
            loading,
        )
    return cover_svg(isbn13=book.isbn13, title=book.title, author=lead_author, css_class=css_class)


@register.simple_tag(takes_context=True)
def book_cards(context: template.Context, books: Sequence[Book]) -> list[SafeString]:
    """The card of each book, in order, reused from the card cache (see ``catalog.cards``).

    ``{% book_cards page.books as cards %}{% for card in cards %}<li>{{ card }}</li>{% endfor %}``
    """
    return book_cards_html(list(books), request=context["request"])


@register.simple_tag
def og_image_url(book: Book) -> str:
    """Absolute URL of the book's cover for Open Graph, or ``""`` (generated covers have none)."""
    return cover_image_url(book)


@register.simple_tag
def root_categories() -> list[selectors.CategoryLink]:
    """The top-level categories for the site navigation (cached by the selector)."""
    return selectors.root_categories()


# JSON can hold "</script>"; these escapes keep it inert inside a <script> element
# (the same ones ``django.utils.html.json_script`` uses).
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def json_ld_script(data: dict[str, Any]) -> SafeString:
    """``data`` as a ``<script type="application/ld+json">`` element, safe against markup injection.

    ``json_script`` cannot be used: it always writes ``type="application/json"``,
    which search engines ignore.
    """
    payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))


@register.simple_tag
def book_json_ld(book: Book, url: str) -> SafeString:
    """schema.org ``Book`` with an ``Offer`` (price, currency, availability) for search engines."""
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Book",
        "name": book.title,
        "isbn": book.isbn13,
        "url": url,
        "inLanguage": book.language,
        "author": [{"@type": "Person", "name": name} for name in book.author_names],
        "offers": {
            "@type": "Offer",
            "price": f"{book.price:.2f}",
            "priceCurrency": book.currency,
            "availability": f"https://schema.org/{'InStock' if book.is_in_stock else 'OutOfStock'}",
            "url": url,
        },
    }
    optional = {
        "description": book.description,
        "publisher": {"@type": "Organization", "name": book.publisher} if book.publisher else None,
        "datePublished": book.publication_date.isoformat() if book.publication_date else None,
        "numberOfPages": book.page_count,
        "image": cover_image_url(book),
    }
    data.update({key: value for key, value in optional.items() if value})
    if book.ratings_count:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": f"{book.average_rating:.2f}",
            "ratingCount": book.ratings_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    return json_ld_script(data)


@dataclass(frozen=True)
class PageLink:
    """One entry of a pagination bar; ``number`` is ``None`` for an ellipsis."""

    number: int | None
    url: str
    is_current: bool


def _pagination(page: selectors.PageInfo, url_for: Callable[[int], str], label: str) -> dict[str, Any]:
    return {
        "page": page,
        "label": label,
        "links": [PageLink(n, url_for(n) if n else "", n == page.number) for n in page.window()],
        "previous_url": url_for(page.previous_number) if page.has_previous else "",
        "next_url": url_for(page.next_number) if page.has_next else "",
    }


@register.inclusion_tag("catalog/includes/pagination.html", takes_context=True)
def listing_pagination(context: template.Context, listing: selectors.BookPage) -> dict[str, Any]:
    """Numbered page links for a book listing, keeping its sort."""
    path = context["request"].path
    return _pagination(listing.page, lambda number: path + listing.query(number), "Pages")


@register.inclusion_tag("catalog/includes/pagination.html", takes_context=True)
def reviews_pagination(context: template.Context, reviews: selectors.ReviewPage) -> dict[str, Any]:
    """Numbered page links for a book's reviews (``?reviews_page=``), landing on the reviews."""
    path = context["request"].path

    def url_for(number: int) -> str:
        return f"{path}?reviews_page={number}#reviews" if number > 1 else f"{path}#reviews"

    return _pagination(reviews.page, url_for, "Review pages")


@register.filter
def language_name(code: str) -> str:
    """``"fr"`` → ``"French"``; unknown codes are shown as they are."""
    try:
        return str(get_language_info(code)["name"])
    except KeyError:
        return code
