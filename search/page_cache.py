"""The search results page in the site-wide page cache (``cloudshelf.edge.page_cache``).

``kept_results_page`` is the one thing the view uses. The page is kept like any other,
with three additions of its own:

* its key includes the synonym map in use, and it depends on the tag ``search``, which
  every write to the index retires (see ``search.result_cache.search_results_changed``)
  along with each shown book's tag;
* a page answered by the database fallback is never kept (the fallback is for outages;
  the next search after OpenSearch recovers should come from it);
* every search answered from a kept page is still announced for analytics, with the
  event the rendering built (``SearchPerformed``) and this answer's own latency.

What the page showed is read from the view's ``TemplateResponse`` (its ``result``) before
it is rendered, so the view hands nothing to the page cache on the side.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse

from cloudshelf.edge.page_cache import PageEntry, View, cached_page, do_not_keep, page_depends_on, page_shell
from search.result_cache import SEARCH_TAG
from search.results import SearchResult
from search.signals import SearchPerformed
from search.synonyms import synonyms_version

_EVENT = "search_event"


def kept_results_page(view: View) -> View:
    """Serve the decorated results view from the page cache (see the module docstring).

    The view returns a ``TemplateResponse`` whose context has the page's ``SearchResult``
    as ``result`` (a page without one, such as a page past the end, only depends on the
    site's tags as every page does).
    """

    @cached_page(on_hit=_announce_kept_search, key_extra=_synonyms_key)
    @wraps(view)
    def render(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        if isinstance(response, TemplateResponse):
            result = (response.context_data or {}).get("result")
            if isinstance(result, SearchResult):
                _remember(request, result)
            # Rendered here, while the page cache is still rendering a shell for this request.
            response.render()
        return response

    return render


def _remember(request: HttpRequest, result: SearchResult) -> None:
    """Record what the page being rendered depends on and what to announce when it is served again."""
    if result.backend != "opensearch":
        do_not_keep(request)
        return
    page_depends_on(request, SEARCH_TAG)
    shell = page_shell(request)
    if shell is not None:
        # The latency is each answer's own (see _announce_kept_search).
        shell.extra[_EVENT] = SearchPerformed.from_result(result, latency_ms=0.0)


def _announce_kept_search(request: HttpRequest, entry: PageEntry, started: float) -> None:
    """``on_hit``: a search served from a kept page still counts."""
    event: SearchPerformed | None = entry.extra.get(_EVENT)
    if event is not None:
        replace(event, latency_ms=round((time.perf_counter() - started) * 1000, 2)).send()


def _synonyms_key(request: HttpRequest) -> str:
    """``key_extra``: the synonym map this process searches with.

    A process that learns of a synonym edit late (its memo of the map, up to a few
    seconds) neither serves nor keeps pages made with a map other than its own.
    """
    return synonyms_version()
