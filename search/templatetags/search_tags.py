"""Template helpers for the results page: links that change one thing about a search.

Load with ``{% load search_tags %}``. Each returns a query string (``?q=…``) made by
``SearchState.query_string``, so every link has the single canonical form of its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import template
from django.utils.safestring import SafeString

from catalog.cards import book_cards_html, context_csrf_token
from catalog.selectors.pages import PageInfo
from search.params import SearchState
from search.results import SearchHit

register = template.Library()


@register.simple_tag
def facet_query(state: SearchState, name: str, value: str) -> str:
    """This search with one facet value switched on or off, back on page 1."""
    return state.query_string(filters=state.filters.toggled(name, value), page=1) or "?"


@register.simple_tag(takes_context=True)
def hit_cards(context: template.Context, hits: Sequence[SearchHit]) -> list[tuple[SearchHit, SafeString]]:
    """Each hit with its book's card, reused from the card cache (see ``catalog.cards``)."""
    books = [hit.book for hit in hits]
    cards = book_cards_html(books, request=context["request"], csrf_token=context_csrf_token(context))
    return list(zip(hits, cards, strict=True))


@register.simple_tag
def sort_hidden_fields(state: SearchState) -> list[tuple[str, str]]:
    """The parameters a sort form must resend besides ``sort`` (the query and the filters)."""
    return ([("q", state.query)] if state.query else []) + state.filters.active()


@register.inclusion_tag("catalog/includes/pagination.html", takes_context=True)
def search_pagination(context: template.Context, state: SearchState, page: PageInfo) -> dict[str, Any]:
    """Numbered page links that keep the query, filters and sort."""
    path = context["request"].path

    def url_for(number: int) -> str:
        return path + state.query_string(page=number)

    return {
        "page": page,
        "label": "Result pages",
        "links": [{"number": n, "url": url_for(n) if n else "", "is_current": n == page.number} for n in page.window()],
        "previous_url": url_for(page.previous_number) if page.has_previous else "",
        "next_url": url_for(page.next_number) if page.has_next else "",
    }
