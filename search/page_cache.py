"""Search results pages in the site-wide page cache (``cloudshelf.edge.page_cache``).

A results page is kept like any other page, with two additions of its own:

* its key includes the synonym map in use (``results_key``), and it depends on the tag
  ``search``, which every write to the index retires (see
  ``search.result_cache.search_results_changed``) along with each shown book's tag;
* a page answered by the database fallback is never kept (the fallback is for outages;
  the next search after OpenSearch recovers should come from it), and every search
  answered from a kept page is still announced for analytics, with what the rendering
  announced (latency excluded).
"""

from __future__ import annotations

import time
from dataclasses import replace

from django.http import HttpRequest

from cloudshelf.edge.page_cache import PageEntry, do_not_keep, page_depends_on, page_shell, request_started
from search.result_cache import SEARCH_TAG
from search.results import SearchResult
from search.signals import SearchPerformed
from search.synonyms import synonyms_version


def remember_results(request: HttpRequest, result: SearchResult) -> None:
    """Record what the page being rendered depends on and what to announce when it is served again."""
    if result.backend != "opensearch":
        do_not_keep(request)
        return
    page_depends_on(request, SEARCH_TAG)
    shell = page_shell(request)
    if shell is not None:
        # Latency is measured again for each answer from the kept page.
        shell.extra["search_event"] = SearchPerformed.from_result(result, latency_ms=0.0)


def announce_kept_search(request: HttpRequest, entry: PageEntry) -> None:
    """``on_hit`` of the results page: a search served from a kept page still counts."""
    event: SearchPerformed | None = entry.extra.get("search_event")
    if event is not None:
        latency_ms = round((time.perf_counter() - request_started(request)) * 1000, 2)
        replace(event, latency_ms=latency_ms).send()


def results_key(request: HttpRequest) -> str:
    """``key_extra`` of the results page: the synonym map this process searches with.

    A process that learns of a synonym edit late (its memo of the map, up to a few
    seconds) neither serves nor keeps pages made with a map other than its own.
    """
    return synonyms_version()
