"""Template helpers for the shop pages: prices, stars, stock badges, covers and SEO data.

Load with ``{% load shop %}``. Formatting lives here, not in models or views, so every
page shows a price, a rating or a stock level the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.template.defaultfilters import date as date_filter
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_info

from catalog import markup
from catalog.cards import book_cards_html, book_page_actions_html, context_csrf_token
from catalog.markup import cover_image_url
from catalog.models import Book
from catalog.page_tags import book_tag, reviews_tag
from catalog.selectors import categories, pages
from catalog.selectors.pages import PageInfo
from catalog.titles import TitleParts, title_parts
from cloudshelf.edge.fragments import tagged_fragment

register = template.Library()


@register.simple_tag
def money(amount: Decimal | int | None, currency: str = "USD") -> str:
    """A price as customers read it: ``$1,234.50``, ``€9.99``, ``¥1,200``, ``12.00 CHF``."""
    return markup.money(amount, currency)


@register.simple_tag
def stars(average: Decimal | float, count: int, *, compact: bool = False, counted: bool = False) -> SafeString:
    """Five stars filled to ``average``, labelled for screen readers, with the count beside them.

    ``counted=True`` says what is counted ("4,780,653 ratings"), where reviews are near.
    """
    return markup.stars_html(average, count, compact=compact, counted=counted)


@register.simple_tag
def review_stars(rating: int) -> SafeString:
    """One customer's star rating: stars only, labelled "Rated 4 out of 5"."""
    return markup.review_stars_html(rating)


@register.simple_tag
def stock_badge(book: Book) -> SafeString:
    """ "In stock", "Only 3 left" or "Out of stock", with a colour class to match."""
    return markup.stock_badge_html(book)


@register.simple_tag
def book_cover(book: Book, css_class: str = "cover", loading: str = "lazy") -> SafeString:
    """The book's cover: uploaded, else our fetched copies (``srcset`` sized by ``css_class``), else generated.

    See ``catalog.markup.book_cover_html``; ``cover_url`` is never linked.
    """
    return markup.book_cover_html(book, css_class, loading)


@register.simple_tag(takes_context=True)
def book_cards(context: template.Context, books: Sequence[Book]) -> list[SafeString]:
    """The card of each book, in order, reused from the card cache (see ``catalog.cards``).

    ``{% book_cards page.books as cards %}{% for card in cards %}<li>{{ card }}</li>{% endfor %}``
    """
    return book_cards_html(list(books), request=context["request"], csrf_token=context_csrf_token(context))


@register.simple_tag(takes_context=True)
def book_reviews_list(context: template.Context, book: Book, page: PageInfo, verified_only: bool = False) -> SafeString:
    """Page ``page`` of the book's reviews (``verified_only``: of its verified purchases) with its
    page links, kept until a review of it changes."""
    request = context["request"]

    def render() -> tuple[str, list[str]]:
        reviews = pages.book_reviews_page(
            book, number=page.number, page_size=page.page_size, verified_only=verified_only, total=page.total
        )
        html = render_to_string("catalog/includes/reviews_list.html", {"reviews": reviews, "request": request})
        return html, [reviews_tag(book.pk)]

    shown = "verified" if verified_only else "all"
    name = f"reviews:{book.pk}:{shown}:{page.number}:{page.page_size}:{request.path}"
    return tagged_fragment(request, name, render)


@register.simple_tag(takes_context=True)
def related_books_section(context: template.Context, book: Book) -> SafeString:
    """The "you may also like" row, kept until one of its books changes (the row's choice: ``related_books``)."""
    request = context["request"]

    def render() -> tuple[str, list[str]]:
        books = pages.related_books(book)
        values = {"related_books": books, "request": request, "csrf_token": context.get("csrf_token")}
        return render_to_string("catalog/includes/related_books.html", values), [book_tag(b.pk) for b in books]

    return tagged_fragment(request, f"related:{book.pk}:{request.path}", render)


@register.simple_tag(takes_context=True)
def book_reading_links_section(context: template.Context, book: Book) -> SafeString:
    """The book's series in reading order and more by its authors, kept until a listed book changes.

    The name holds the book's own title and authors, so a new price for the book does not
    retire the lists (as for the related row, a new book by its authors shows once the kept
    fragment expires).
    """
    request = context["request"]
    credits = book.author_credits

    def render() -> tuple[str, list[str]]:
        links = pages.book_reading_links(book)
        html = render_to_string("catalog/includes/reading_links.html", {"links": links, "book": book})
        return html, [book_tag(book_id) for book_id in links.book_ids]

    shown = hashlib.blake2b(repr((book.title, credits)).encode(), digest_size=8).hexdigest()
    return tagged_fragment(request, f"reading:{book.pk}:{shown}:{request.path}", render)


@register.simple_tag
def series_of(title: str) -> TitleParts:
    """``{% series_of book.title as parts %}``: the series a title names (``parts.series``, ``parts.number``)."""
    return title_parts(title)


@register.filter
def volume(number: float | None) -> str:
    """A series volume as people write it: ``2.0`` → ``"2"``, ``4.5`` → ``"4.5"``."""
    return pages.BookLink("", "", number).volume_label


@register.filter
def publication(day: date | None) -> str:
    """A publication date for people: ``21 September 1937``, or only the year for 1 January.

    An import that knows only the year stores 1 January of it (``catalog.importing``), so
    that day is shown as the year alone rather than as a date nobody gave.
    """
    if day is None:
        return ""
    return str(day.year) if (day.month, day.day) == (1, 1) else date_filter(day, "j F Y")


@register.simple_tag(takes_context=True)
def book_page_actions(context: template.Context, book: Book) -> SafeString:
    """``{% book_page_actions book %}``: the controls other apps add to a book's page, posting back to it."""
    request = context.get("request")
    return book_page_actions_html(
        book,
        csrf_token=str(context.get("csrf_token") or ""),
        next_path=request.get_full_path() if request is not None else "",
    )


@register.simple_tag
def og_image_url(book: Book) -> str:
    """Absolute URL of the largest cover image we hold for Open Graph, or ``""`` (generated covers have none)."""
    return cover_image_url(book)


@register.simple_tag
def root_categories() -> list[categories.CategoryLink]:
    """The top-level categories for the site navigation (cached by the selector)."""
    return categories.root_categories()


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


def _pagination(page: pages.PageInfo, url_for: Callable[[int], str], label: str) -> dict[str, Any]:
    return {
        "page": page,
        "label": label,
        "links": [PageLink(n, url_for(n) if n else "", n == page.number) for n in page.window()],
        "previous_url": url_for(page.previous_number) if page.has_previous else "",
        "next_url": url_for(page.next_number) if page.has_next else "",
    }


@register.inclusion_tag("catalog/includes/pagination.html", takes_context=True)
def listing_pagination(context: template.Context, listing: pages.BookPage) -> dict[str, Any]:
    """Numbered page links for a book listing, keeping its sort."""
    path = context["request"].path
    return _pagination(listing.page, lambda number: path + listing.query(number), "Pages")


@register.inclusion_tag("catalog/includes/pagination.html", takes_context=True)
def reviews_pagination(context: template.Context, reviews: pages.ReviewPage) -> dict[str, Any]:
    """Numbered page links for a book's reviews (``?reviews_page=``, keeping ``?reviews=verified``),
    landing on the reviews."""
    path = context["request"].path

    def url_for(number: int) -> str:
        params = {"reviews": "verified"} if reviews.verified_only else {}
        if number > 1:
            params["reviews_page"] = str(number)
        return f"{path}?{urlencode(params)}#reviews" if params else f"{path}#reviews"

    return _pagination(reviews.page, url_for, "Review pages")


@register.filter
def language_name(code: str) -> str:
    """``"fr"`` → ``"French"``; unknown codes are shown as they are."""
    try:
        return str(get_language_info(code)["name"])
    except KeyError:
        return code
