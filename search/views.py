"""The search results page and the autocomplete endpoint.

Thin: read the request into a ``SearchState`` (unknown values dropped, never an error),
ask ``search.engine``, render. Everything a results page shows is in its URL, so every
state can be shared, bookmarked and reloaded.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from cloudshelf.features.pages import page_shows
from cloudshelf.ratelimit import SiteLimit, limit_requests
from search import engine
from search.facets import category_tree, filter_label
from search.page_cache import kept_results_page
from search.params import SEARCH_SORTS, SearchFilters, SearchPageOutOfRange, SearchState, clean_query

# Longer page numbers cannot be real pages (SEARCH_MAX_PAGE is far smaller).
_MAX_PAGE_DIGITS = 7


def read_state(request: HttpRequest) -> tuple[SearchState, bool, bool]:
    """The search the URL asks for, whether its page number is well-formed, and whether the query was cut."""
    raw_page = request.GET.get("page", "").strip()
    is_page_valid = not raw_page or (raw_page.isascii() and raw_page.isdigit() and len(raw_page) <= _MAX_PAGE_DIGITS)
    sort = request.GET.get("sort", "")
    query, was_cut = clean_query(request.GET.get("q", ""))
    state = SearchState(
        query=query,
        filters=SearchFilters.from_params(request.GET.getlist, known_categories=set(category_tree())),
        sort=sort if sort in SEARCH_SORTS else "relevance",
        page=int(raw_page) if raw_page and is_page_valid else 1,
    )
    return state, is_page_valid, was_cut


def _page_context(state: SearchState) -> dict[str, Any]:
    title = f"Search results for “{state.query}”" if state.query else "Search all books"
    return {
        "state": state,
        "search_query": state.query,  # base.html keeps it in the header's search box
        "page_title": title + (f" (page {state.page})" if state.page > 1 else ""),
        "canonical_path": reverse("search:results") + state.query_string(),
        # Internal search pages are for people: crawlers may follow them, not index them.
        "robots": "noindex, follow",
        "sort_options": SEARCH_SORTS.values(),
        "active_filters": [
            {
                "label": filter_label(name, value),
                "remove_query": state.query_string(filters=state.filters.without(name, value), page=1),
            }
            for name, value in state.filters.active()
        ],
    }


# Abuse limits per client address (settings "Abuse limits"): outermost, so kept pages count too
# and a refusal (never cached) costs no search.
SEARCHING = SiteLimit(name="search", setting="SEARCHES_PER_ADDRESS_MINUTE", window_seconds=60)
AUTOCOMPLETING = SiteLimit(name="autocomplete", setting="AUTOCOMPLETE_PER_ADDRESS_MINUTE", window_seconds=60)


@limit_requests(SEARCHING, methods=("GET", "HEAD"))
@require_safe
@kept_results_page
def results(request: HttpRequest) -> TemplateResponse:
    """Results with facets, active filters, highlights and "did you mean"; 404 for a page that cannot exist."""
    state, is_page_valid, was_cut = read_state(request)
    context = _page_context(state) | {"query_was_cut": was_cut, "max_query_length": settings.SEARCH_MAX_QUERY_LENGTH}
    try:
        if not is_page_valid:
            raise SearchPageOutOfRange("That is not a page number.", last_page=1)
        result = engine.search_books(
            query=state.query,
            filters=state.filters,
            sort=state.sort,
            page=state.page,
            # Non-essential: off by an admin's flag or while load is shed (cloudshelf.features).
            with_facets=page_shows(request, "facet_counts"),
        )
    except SearchPageOutOfRange as error:
        context |= {"page_error": str(error), "last_page_query": state.query_string(page=error.last_page)}
        return TemplateResponse(request, "search/results.html", context, status=404)
    context["result"] = result
    if result.suggestion:
        # The suggestion was checked with these filters, so the link keeps them.
        context["suggestion_query"] = state.query_string(query=result.suggestion, page=1)
    response = TemplateResponse(request, "search/results.html", context)
    # Which backend answered (benchmarks and operators read it); kept pages are OpenSearch's.
    response["X-Search-Backend"] = result.backend
    return response


@limit_requests(AUTOCOMPLETING, methods=("GET", "HEAD"), as_json=True)
@require_safe
@cache_control(public=True, max_age=60)
def autocomplete(request: HttpRequest) -> JsonResponse:
    """``{"titles": [{title, authors, url}], "authors": [{name, url}], "search_url"}`` for what was typed."""
    result = engine.autocomplete(prefix=request.GET.get("q", ""))
    return JsonResponse(
        {
            "query": result.prefix,
            "titles": [{"title": t.title, "authors": t.authors, "url": t.url} for t in result.titles],
            "authors": [{"name": a.name, "url": a.url} for a in result.authors],
            "search_url": reverse("search:results") + SearchState(query=result.prefix).query_string(),
        }
    )
