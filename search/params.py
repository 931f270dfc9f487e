"""What a search asks for: the query text, facet filters, sort and page, and how each is read.

Everything here accepts anything a browser or partner may send and never raises: an
unknown facet value is dropped, an over-long query is cut at a word boundary, a page
that cannot exist is reported by ``search.engine`` as ``SearchPageOutOfRange``. The same
``SearchState`` writes the URL back (``query_string``), so every state has one shareable URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import EmptyPage

from catalog.isbn import is_valid_isbn13, isbn13_check_digit
from catalog.selectors.pages import SORT_OPTIONS, PageInfo, SortOption


class SearchInputError(ValueError):
    """A search that cannot be run as asked; ``str(error)`` is safe to show."""


class SearchPageOutOfRange(SearchInputError):
    """The page is below 1, past ``SEARCH_MAX_PAGE`` or past the results; ``last_page`` exists."""

    def __init__(self, message: str, *, last_page: int) -> None:
        super().__init__(message)
        self.last_page = last_page


# --- Facet definitions ------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRange:
    key: str
    label: str
    low: Decimal | None  # inclusive
    high: Decimal | None  # exclusive


PRICE_RANGES: tuple[PriceRange, ...] = (
    PriceRange("0-10", "Under $10", None, Decimal(10)),
    PriceRange("10-20", "$10 to $20", Decimal(10), Decimal(20)),
    PriceRange("20-30", "$20 to $30", Decimal(20), Decimal(30)),
    PriceRange("30-50", "$30 to $50", Decimal(30), Decimal(50)),
    PriceRange("50-", "$50 and over", Decimal(50), None),
)
PRICE_RANGES_BY_KEY = {price_range.key: price_range for price_range in PRICE_RANGES}
# "4★ & up" … "1★ & up": a minimum average rating.
RATING_THRESHOLDS = (4, 3, 2, 1)

# Facet names in the order the sidebar shows them; each is also its URL parameter.
FACET_NAMES = ("category", "author", "price", "rating", "in_stock", "language", "decade")
FACET_LABELS = {
    "category": "Category",
    "author": "Author",
    "price": "Price",
    "rating": "Customer rating",
    "in_stock": "Availability",
    "language": "Language",
    "decade": "Published",
}
# More values than this per multi-value facet are ignored (a URL is not a bulk API).
MAX_VALUES_PER_FACET = 10
MAX_AUTHOR_NAME_LENGTH = 200
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


# --- Sorts ----------------------------------------------------------------------------

RELEVANCE = SortOption("relevance", "Best match", ())
# The catalog's own sort options (and their ORM order) wherever a search offers the same
# order, so the fallback sorts exactly as the browse pages do.
SEARCH_SORTS: dict[str, SortOption] = {
    "relevance": RELEVANCE,
    "price": SORT_OPTIONS["price"],
    "price-desc": SORT_OPTIONS["price-desc"],
    "rating": SORT_OPTIONS["rating"],
    "newest": SORT_OPTIONS["newest"],
}
DEFAULT_SEARCH_SORT = "relevance"


def search_sort(key: str | None) -> SortOption:
    """The sort named ``key``; relevance for a missing or unknown key (never an error)."""
    return SEARCH_SORTS.get(key or "", RELEVANCE)


# --- Filters --------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    """Facet filters. Values within one facet are alternatives (OR); facets combine with AND.

    ``category`` is one category path (its whole subtree matches); ``min_rating`` is
    1 to 4; the others hold the facet keys shown in the sidebar.
    """

    category: str | None = None
    authors: tuple[str, ...] = ()
    prices: tuple[str, ...] = ()
    min_rating: int | None = None
    in_stock: bool = False
    languages: tuple[str, ...] = ()
    decades: tuple[int, ...] = ()

    @classmethod
    def from_params(cls, getlist: Callable[[str], list[str]], *, known_categories: set[str]) -> SearchFilters:
        """Read filters from URL parameters (``request.GET.getlist``), dropping unknown values."""

        def values(name: str) -> list[str]:
            cleaned: list[str] = []
            for raw in getlist(name):
                value = raw.strip()
                if value and value not in cleaned:
                    cleaned.append(value)
            return cleaned[:MAX_VALUES_PER_FACET]

        category = next((path for path in values("category") if path in known_categories), None)
        ratings = [int(value) for value in values("rating") if value in {"1", "2", "3", "4"}]
        return cls(
            category=category,
            # A name with control characters is no author's (and Postgres refuses NUL bytes).
            authors=tuple(
                name for name in values("author") if len(name) <= MAX_AUTHOR_NAME_LENGTH and name.isprintable()
            ),
            prices=tuple(key for key in PRICE_RANGES_BY_KEY if key in values("price")),
            min_rating=max(ratings) if ratings else None,
            in_stock=any(value.lower() in {"1", "true", "yes", "on"} for value in values("in_stock")),
            languages=tuple(value.lower() for value in values("language") if _LANGUAGE_CODE.match(value.lower())),
            decades=tuple(sorted({int(value) for value in values("decade") if _is_decade(value)}, reverse=True)),
        )

    def active(self) -> list[tuple[str, str]]:
        """Every active filter as ``(facet name, value)``, in sidebar order: the URL parameters."""
        pairs: list[tuple[str, str]] = []
        if self.category:
            pairs.append(("category", self.category))
        pairs += [("author", name) for name in self.authors]
        pairs += [("price", key) for key in self.prices]
        if self.min_rating:
            pairs.append(("rating", str(self.min_rating)))
        if self.in_stock:
            pairs.append(("in_stock", "1"))
        pairs += [("language", code) for code in self.languages]
        pairs += [("decade", str(decade)) for decade in self.decades]
        return pairs

    def without(self, name: str, value: str | None = None) -> SearchFilters:
        """These filters minus one value of facet ``name`` (or the whole facet when ``value`` is None)."""
        if name == "category":
            return replace(self, category=None)
        if name == "rating":
            return replace(self, min_rating=None)
        if name == "in_stock":
            return replace(self, in_stock=False)
        attribute = _MULTI_VALUE_ATTRIBUTES[name]
        current: tuple[Any, ...] = getattr(self, attribute)
        remaining = () if value is None else tuple(item for item in current if str(item) != value)
        changes: dict[str, Any] = {attribute: remaining}
        return replace(self, **changes)

    def toggled(self, name: str, value: str) -> SearchFilters:
        """These filters with one facet value switched on or off, as a click in the sidebar does."""
        if name == "category":
            return replace(self, category=None if self.category == value else value)
        if name == "rating":
            return replace(self, min_rating=None if str(self.min_rating) == value else int(value))
        if name == "in_stock":
            return replace(self, in_stock=not self.in_stock)
        attribute = _MULTI_VALUE_ATTRIBUTES[name]
        current: tuple[Any, ...] = getattr(self, attribute)
        if value in {str(item) for item in current}:
            return self.without(name, value)
        item: str | int = int(value) if name == "decade" else value
        changes: dict[str, Any] = {attribute: (*current, item)}
        return replace(self, **changes)

    def is_selected(self, name: str, value: str) -> bool:
        return (name, value) in self.active()

    def as_dict(self) -> dict[str, list[str]]:
        """JSON-friendly form, for analytics."""
        result: dict[str, list[str]] = {}
        for name, value in self.active():
            result.setdefault(name, []).append(value)
        return result


_MULTI_VALUE_ATTRIBUTES = {"author": "authors", "price": "prices", "language": "languages", "decade": "decades"}


def _is_decade(value: str) -> bool:
    return len(value) == 4 and value.isascii() and value.isdigit() and int(value) % 10 == 0


# --- Query text -----------------------------------------------------------------------


def clean_query(raw: str) -> tuple[str, bool]:
    """The query as searched: whitespace collapsed, control characters dropped, and cut at a
    word boundary when longer than ``SEARCH_MAX_QUERY_LENGTH``. Returns ``(query, was_cut)``.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in raw)
    text = " ".join(text.split())
    limit = settings.SEARCH_MAX_QUERY_LENGTH
    if len(text) <= limit:
        return text, False
    cut = text[: limit + 1].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut[:limit].strip(), True


def isbn_in_query(query: str) -> str | None:
    """The ISBN-13 a query consists of (written with or without hyphens, or as an ISBN-10), else None."""
    compact = "".join(ch for ch in query if ch not in "- ").upper()
    if len(compact) == 13 and is_valid_isbn13(compact):
        return compact
    # isascii() first: "²" and other non-ASCII digits pass isdigit() but int() refuses them.
    if (
        len(compact) == 10
        and compact.isascii()
        and compact[:9].isdigit()
        and (compact[9].isdigit() or compact[9] == "X")
    ):
        total = sum((10 - index) * int(digit) for index, digit in enumerate(compact[:9]))
        check = 10 if compact[9] == "X" else int(compact[9])
        if (total + check) % 11 == 0:
            twelve = "978" + compact[:9]
            return twelve + str(isbn13_check_digit(twelve))
    return None


# --- The whole state of a results page ------------------------------------------------


@dataclass(frozen=True)
class SearchState:
    """Everything a results page shows, and therefore everything its URL holds."""

    query: str = ""
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: str = DEFAULT_SEARCH_SORT
    page: int = 1

    def query_string(self, **changes: Any) -> str:
        """``?q=…&category=…&sort=…&page=…`` of this state (with ``changes`` applied).

        Parameters come in a fixed order and defaults are left out, so each state has
        exactly one URL: the links, the canonical URL and shared links all agree.
        """
        state = replace(self, **changes) if changes else self
        params: list[tuple[str, str | int]] = []
        if state.query:
            params.append(("q", state.query))
        params += state.filters.active()
        if state.sort != DEFAULT_SEARCH_SORT:
            params.append(("sort", state.sort))
        if state.page > 1:
            params.append(("page", state.page))
        return f"?{urlencode(params)}" if params else ""


@dataclass(frozen=True)
class SearchSpec:
    """One search as both backends receive it: cleaned, validated and synonym-expanded."""

    query: str
    # The query and its synonym variants (``search.synonyms.expand``); empty for no query.
    variants: list[str]
    isbn: str | None
    filters: SearchFilters
    sort: SortOption
    page: int
    page_size: int
    # Count the facets (the sidebar); off while the feature "facet_counts" is (cloudshelf.features).
    with_facets: bool = True

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_info(spec: SearchSpec, total: int) -> PageInfo:
    """Where ``spec``'s page sits among ``total`` results; raises ``SearchPageOutOfRange`` past the last."""
    try:
        return PageInfo.build(
            number=spec.page, page_size=spec.page_size, total=total, max_page=settings.SEARCH_MAX_PAGE
        )
    except EmptyPage:
        last = PageInfo.build(number=1, page_size=spec.page_size, total=total, max_page=settings.SEARCH_MAX_PAGE)
        raise SearchPageOutOfRange(
            f"There are only {last.num_pages} pages of results.", last_page=last.num_pages
        ) from None
