"""Shop markup built in Python: prices, star ratings, stock badges, covers and the book card.

These pieces are on every listing two dozen times over. Through the template engine a
book card cost about 250 µs to render (each included template and inclusion tag pays for
a new context and a node walk); built here with ``format_html`` it costs about 90 µs,
most of it the generated cover. ``format_html`` escapes every value, as autoescaping
would. Templates reach the same functions through the ``shop`` tags, so each piece of
markup is written once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from catalog.covers import cover_svg
from catalog.models import Book

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "CA$", "AUD": "A$", "JPY": "¥", "INR": "₹"}
# ISO 4217 currencies without minor units: ¥1,200, not ¥1,200.00.
ZERO_DECIMAL_CURRENCIES = {"JPY", "KRW"}


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


def _stars(label: str, percent: Decimal, *, extra: SafeString | str = "", compact: bool = False) -> SafeString:
    # The fill is a class per quarter star (stars__fill--0 … --100 in site.css), not a style
    # attribute: the Content-Security-Policy allows no inline style. The exact figure is beside it.
    quarter_stars = int((percent / 5).to_integral_value(rounding=ROUND_HALF_UP))
    return format_html(
        '<span class="rating{}"><span class="stars" role="img" aria-label="{}">'
        '<span class="stars__fill stars__fill--{}"></span></span>{}</span>',
        " rating--compact" if compact else "",
        label,
        quarter_stars * 5,
        extra,
    )


def stars_html(average: Decimal | float, count: int, *, compact: bool = False, counted: bool = False) -> SafeString:
    """Five stars filled to ``average``, labelled for screen readers, with the count beside them.

    The count is ``(3,204)`` on a card; ``counted=True`` writes ``3,204 ratings``, for the
    book page, where a bare number beside the reviews would read as a count of reviews.
    """
    if not count:
        return format_html(
            '<span class="rating{}"><span class="rating__none">No ratings yet</span></span>',
            " rating--compact" if compact else "",
        )
    value = Decimal(average or 0)
    shown_count = f"{count:,} rating{'' if count == 1 else 's'}" if counted else f"({count:,})"
    beside = format_html(
        ' <span class="rating__value" aria-hidden="true">{}</span>'
        ' <span class="rating__count" aria-hidden="true">{}</span>',
        f"{value:.1f}",
        shown_count,
    )
    percent = min(max(value, Decimal(0)), Decimal(5)) * 20
    return _stars(rating_label(value, count), percent, extra=beside, compact=compact)


def review_stars_html(rating: int) -> SafeString:
    """One customer's star rating: stars only, labelled "Rated 4 out of 5"."""
    return _stars(f"Rated {rating} out of 5", Decimal(min(max(rating, 0), 5)) * 20)


def stock_badge_html(book: Book) -> SafeString:
    """ "In stock", "Only 3 left" or "Out of stock", with a colour class to match."""
    if not book.is_in_stock:
        label, state = "Out of stock", "out"
    elif book.is_low_stock:
        label, state = f"Only {book.stock_on_hand} left", "low"
    else:
        label, state = "In stock", "in"
    return format_html('<span class="badge badge--{}">{}</span>', state, label)


@dataclass(frozen=True)
class CoverSlot:
    """Where a cover is drawn: the ``sizes`` attribute for that slot, and its usual width (for ``src``)."""

    sizes: str
    width: int


# The slots' widths as static/css/site.css draws them (keep in step with it, and with
# ``catalog.cover_fetch.COVER_WIDTHS``). A card: ~170-200 px in the grid and shelves, two
# to a row under 720 px (half the screen less the container's padding and the gap). The
# book page: 320 px, 240 px under 900 px, 60% of the screen up to 240 px under 720 px.
CARD_COVER = CoverSlot(sizes="(max-width: 720px) calc(50vw - 24px), 200px", width=200)
COVER_SLOTS = {
    "cover--large": CoverSlot(sizes="(max-width: 720px) min(60vw, 240px), (max-width: 900px) 240px, 320px", width=320),
    "cover--small": CoverSlot(sizes="72px", width=72),
}


def _absolute(url: str) -> str:
    """``url`` as an absolute URL: MEDIA_URL may be a path (``/media/``) or a CDN's domain."""
    if url.startswith("//"):
        return f"https:{url}"
    if url.startswith("/"):
        return f"{settings.SITE_URL}{url}"
    return url


def cover_image_url(book: Book) -> str:
    """Absolute URL of the book's largest cover image we hold (for Open Graph and JSON-LD), or ``""``.

    An uploaded cover first, else the fetched JPEG copy. Never ``cover_url``: that host
    is not ours to promise (see ``catalog.cover_fetch``).
    """
    if book.cover_image:
        return _absolute(book.cover_image.url)
    jpegs = [rendition for rendition in book.fetched_cover if rendition.format == "jpeg"]
    return _absolute(default_storage.url(jpegs[-1].name)) if jpegs else ""


def _cover_slot(css_class: str) -> CoverSlot:
    for modifier in css_class.split():
        if modifier in COVER_SLOTS:
            return COVER_SLOTS[modifier]
    return CARD_COVER


def book_cover_html(book: Book, css_class: str = "cover", loading: str = "lazy") -> SafeString:
    """The book's cover: uploaded, else our fetched copies with ``srcset``, else a generated SVG.

    ``css_class`` also picks the ``sizes`` of the slot (``cover--large``, ``cover--small``,
    else a card). ``loading="eager"`` is for the one cover above the fold (the book
    page), which also gets ``fetchpriority="high"``: it is the page's largest paint. The
    image is never hot-linked from ``cover_url``: until our copy exists the SVG shows.
    """
    lead_author = next(iter(book.author_names), "")
    alt = f"Cover of {book.title}" + (f" by {lead_author}" if lead_author else "")
    priority = ' fetchpriority="high"' if loading == "eager" else ""
    if book.cover_image:
        return format_html(
            '<img class="{}" src="{}" alt="{}" loading="{}"{} decoding="async" width="200" height="300">',
            css_class,
            book.cover_image.url,
            alt,
            loading,
            mark_safe(priority),
        )
    copies = [rendition for rendition in book.fetched_cover if rendition.format == "webp"]
    if not copies:
        return cover_svg(isbn13=book.isbn13, title=book.title, author=lead_author, css_class=css_class)
    slot = _cover_slot(css_class)
    fallback = next((rendition for rendition in copies if rendition.width >= slot.width), copies[-1])
    srcset = ", ".join(f"{conditional_escape(default_storage.url(copy.name))} {copy.width}w" for copy in copies)
    return format_html(
        '<img class="{}" src="{}" srcset="{}" sizes="{}" alt="{}" width="{}" height="{}" loading="{}"{}'
        ' decoding="async">',
        css_class,
        default_storage.url(fallback.name),
        mark_safe(srcset),  # each URL escaped above
        slot.sizes,
        alt,
        fallback.width,
        fallback.height,
        loading,
        mark_safe(priority),
    )


def book_card_html(book: Book, *, actions: Iterable[SafeString] = ()) -> SafeString:
    """A book card for listings: cover, title, authors, rating, price, stock and ``actions`` (forms)."""
    names = book.author_names
    authors = format_html('<p class="book-card__author">{}</p>', ", ".join(names)) if names else ""
    return format_html(
        '<article class="book-card">\n'
        '  <div class="book-card__cover">{}</div>\n'
        '  <div class="book-card__body">\n'
        '    <h3 class="book-card__title"><a href="{}">{}</a></h3>\n'
        "    {}{}\n"
        '    <p class="book-card__buy"><span class="price">{}</span> {}</p>\n'
        "    {}\n"
        "  </div>\n"
        "</article>",
        book_cover_html(book),
        book.get_absolute_url(),
        book.title,
        authors,
        stars_html(book.average_rating, book.ratings_count, compact=True),
        money(book.price, book.currency),
        stock_badge_html(book),
        mark_safe("".join(conditional_escape(action) for action in actions)),
    )
