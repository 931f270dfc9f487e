"""What a search returns, the same from OpenSearch and from the database fallback.

Plain frozen dataclasses: the results page renders them, the partner API serializes them,
and neither needs to know which backend answered (``backend`` says, for logs and tests).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from catalog.models import Book
from catalog.selectors.pages import PageInfo, SortOption
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


# --- Highlighting in Python ------------------------------------------------------------------
# Used for every strict match, from either backend: the cards already hold each book's
# title and description, and marking the query's words here costs microseconds, where
# OpenSearch's highlighter cost more than the rest of the query. A typo-tolerant match
# (whose words differ from the query's) is highlighted by OpenSearch instead.

SNIPPET_LENGTH = 160
_WORD = re.compile(r"\w+", re.UNICODE)


def _singular(word: str) -> str | None:
    """The singular of an English plural (``games`` → ``game``, ``stories`` → ``story``), or None.

    The index stems words, so "games" finds "A Game of Thrones"; marking only what starts
    with the query's own words would leave that match unmarked.
    """
    if len(word) < 4 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return None
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    return word[:-1]


def highlight_words(variants: list[str]) -> list[str]:
    """The words to mark: every word of the query and its synonym variants (and their singulars), longest first."""
    words = {word.lower() for variant in variants for word in _WORD.findall(variant) if len(word) >= 2}
    words |= {singular for singular in map(_singular, words) if singular}
    return sorted(words, key=len, reverse=True)


def _mark(text: str, words: list[str]) -> str:
    """``text`` with every word that starts with one of ``words`` wrapped in highlight markers."""
    text = strip_marks(text)
    if not words:
        return text
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\w*", re.IGNORECASE)
    return pattern.sub(lambda match: f"{MARK_START}{match.group(0)}{MARK_END}", text)


def highlight(text: str, words: list[str]) -> SafeString:
    """``text`` as safe HTML with the matched words in ``<mark>``."""
    return safe_highlight(_mark(text, words))


def snippet(description: str, words: list[str]) -> SafeString:
    """About ``SNIPPET_LENGTH`` characters of ``description`` around its first match, highlighted; "" without one."""
    if not description or not words:
        return mark_safe("")
    lowered = description.lower()
    positions = [found for found in (lowered.find(word) for word in words) if found >= 0]
    if not positions:
        return mark_safe("")
    start = max(0, min(positions) - SNIPPET_LENGTH // 3)
    if start:
        start = description.find(" ", start) + 1 or start
    fragment = description[start : start + SNIPPET_LENGTH]
    if start + SNIPPET_LENGTH < len(description):
        fragment = fragment.rsplit(" ", 1)[0] + "…"
    return safe_highlight(("…" if start else "") + _mark(fragment, words))


def card_with_highlighted_title(card: SafeString, title: str, title_html: SafeString) -> SafeString:
    """``card`` (a book card, ``catalog.markup.book_card_html``) with its title's text replaced by ``title_html``.

    Cards are cached per book and shared by every page, so they cannot carry one search's
    marks: the marked title is put in on the way out. A card drawn differently is returned
    as it is (unmarked, never broken).
    """
    heading = card.find('class="book-card__title"')
    plain = f">{escape(title)}</a>"
    at = card.find(plain, heading) if heading >= 0 else -1
    if at < 0 or title_html == escape(title):
        return card
    # ``card`` and ``title_html`` are both safe HTML; the piece replaced is the escaped title.
    return mark_safe(f"{card[:at]}>{title_html}</a>{card[at + len(plain) :]}")


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
    # The counts are estimates from a sample of the best matches (a search matching many books).
    approximate: bool = False


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
