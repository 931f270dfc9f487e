"""What a search returns, the same from OpenSearch and from the database fallback.

Plain frozen dataclasses: the results page renders them, the partner API serializes them,
and neither needs to know which backend answered (``backend`` says, for logs and tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from catalog.models import Book
from catalog.selectors import PageInfo, SortOption
from search.params import SearchFilters

Backend = Literal["opensearch", "database"]

# Highlight markers: private-use characters that never reach the page. OpenSearch (and
# the fallback's highlighter) wrap matches in them; ``safe_highlight`` escapes everything
# and only then turns balanced markers into <mark> elements.
MARK_START = "\ue000"
MARK_END = "\ue001"


def strip_marks(text: str) -> str:
    return text.replace(MARK_START, "").replace(MARK_END, "")


def safe_highlight(marked: str) -> SafeString:
    """HTML for a highlighted fragment: the text escaped, matches wrapped in ``<mark>``.

    Markers are paired by a small state machine, so whatever the source text contains,
    the output has only balanced ``<mark>…</mark>`` and no markup of its own.
    """
    parts: list[str] = []
    is_open = False
    for chunk in marked.replace(MARK_END, f"{MARK_END}\x00").replace(MARK_START, f"\x00{MARK_START}").split("\x00"):
        if chunk.startswith(MARK_START):
            if not is_open:
                parts.append("<mark>")
                is_open = True
            chunk = chunk[len(MARK_START) :]
        closes = chunk.endswith(MARK_END)
        parts.append(escape(strip_marks(chunk)))
        if closes and is_open:
            parts.append("</mark>")
            is_open = False
    if is_open:
        parts.append("</mark>")
    return mark_safe("".join(parts))  # every piece of text above went through escape()


@dataclass(frozen=True)
class SearchHit:
    """One result: the live book (price and stock from the database) and its highlights."""

    book: Book
    title_html: SafeString
    snippet_html: SafeString


@dataclass(frozen=True)
class FacetValue:
    key: str
    label: str
    count: int
    is_selected: bool = False
    depth: int = 0  # categories: 0 for a root, 1 for its children …


@dataclass(frozen=True)
class Facet:
    name: str
    label: str
    values: list[FacetValue]

    @property
    def has_selection(self) -> bool:
        return any(value.is_selected for value in self.values)


@dataclass(frozen=True)
class SearchResult:
    query: str
    filters: SearchFilters
    sort: SortOption
    hits: list[SearchHit]
    page: PageInfo
    facets: list[Facet]
    backend: Backend
    took_ms: float = 0.0
    # "Did you mean": a corrected query that finds books, offered when this one found none.
    suggestion: str | None = None
    # The query was longer than SEARCH_MAX_QUERY_LENGTH and was cut at a word boundary.
    query_was_cut: bool = False
    synonyms_used: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.page.total

    @property
    def is_zero_result(self) -> bool:
        return self.page.total == 0

    @property
    def books(self) -> list[Book]:
        return [hit.book for hit in self.hits]

    def facet(self, name: str) -> Facet | None:
        return next((facet for facet in self.facets if facet.name == name), None)


@dataclass(frozen=True)
class TitleSuggestion:
    title: str
    authors: list[str]
    url: str


@dataclass(frozen=True)
class AuthorSuggestion:
    name: str
    url: str


@dataclass(frozen=True)
class AutocompleteResult:
    prefix: str
    titles: list[TitleSuggestion]
    authors: list[AuthorSuggestion]
    backend: Backend
