"""Whole results pages for anonymous visitors, kept briefly in each process's memory.

Most shoppers search without being logged in and without a cart yet, and for them a
results page is the same for everyone who asks the same URL: only the CSRF token of its
forms differs. Rendering it is most of what a popular search costs (about 8 ms of CPU,
against well under 1 ms to send a kept copy), so such pages are kept in the ``pages``
cache: process memory, an LRU of ``SEARCH_PAGE_CACHE_ENTRIES`` pages (~80 kB each,
~15 kB compressed), for ``SEARCH_PAGE_CACHE_SECONDS``. Process memory, not Redis: an LRU
bounds it where Redis (which also holds carts and never evicts) would not, and a deploy
(new processes) starts it empty, so no page outlives the markup it was rendered with.

Freshness: a page is kept under the index's generation (``search.result_cache``), which
changes after every write to the index, and under the synonym map this process uses.
Catalog changes reach the index a few seconds after they commit (prices and stock
included), so a kept page is as fresh as search results themselves; the product page
and the cart always read live prices.

Who gets kept pages: GET requests without a session cookie (so anonymous, with no cart
and no pending messages) and without a messages cookie. Everyone else gets a fresh
render. A kept page holds a placeholder where the CSRF token goes; each visitor gets
their own token (and the CSRF cookie with it). Every search served from a kept page is
still announced for analytics.
"""

from __future__ import annotations

import hashlib
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers

from catalog.cards import CSRF_TOKEN_SLOT
from search.result_cache import results_generation
from search.results import SearchResult
from search.signals import search_performed
from search.synonyms import synonyms_version

PAGES_CACHE_ALIAS = "pages"


@dataclass(frozen=True)
class KeptPage:
    # zlib-compressed UTF-8 (about a sixth of the page: 24 SVG covers compress well).
    compressed_html: bytes
    content_type: str
    # What search_performed announced when the page was rendered (latency excluded).
    event: dict[str, Any] = field(default_factory=dict)


def is_cacheable(request: HttpRequest) -> bool:
    """Whether ``request`` may get (and fill) a kept page: anonymous, no session, no messages."""
    return (
        settings.SEARCH_PAGE_CACHE_SECONDS > 0
        and request.method == "GET"
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and CookieStorage.cookie_name not in request.COOKIES
    )


def _key(request: HttpRequest, generation: str) -> str:
    described = f"{generation}\n{synonyms_version()}\n{request.get_host()}\n{request.get_full_path()}"
    return "search-page:" + hashlib.blake2b(described.encode(), digest_size=16).hexdigest()


def _for_this_visitor(request: HttpRequest, html: str) -> str:
    # As {% csrf_token %} would: this visitor's token, and a CSRF cookie on the response.
    return html.replace(CSRF_TOKEN_SLOT, get_token(request)) if CSRF_TOKEN_SLOT in html else html


def kept_results_page(request: HttpRequest) -> HttpResponse | None:
    """The kept page for ``request``, announced for analytics; ``None`` when there is none to give."""
    if not is_cacheable(request):
        return None
    started = time.perf_counter()
    key = _key(request, results_generation())
    kept: KeptPage | None = caches[PAGES_CACHE_ALIAS].get(key)
    if kept is None:
        # Made before searching, so it also serves csrf_placeholder (see its docstring).
        request.search_page_key = key  # type: ignore[attr-defined]
        return None
    html = zlib.decompress(kept.compressed_html).decode()
    response = HttpResponse(_for_this_visitor(request, html), content_type=kept.content_type)
    # As the rendered page has (it reads the session): it differs by cookie.
    patch_vary_headers(response, ("Cookie",))
    latency_ms = round((time.perf_counter() - started) * 1000, 2)
    search_performed.send(sender=SearchResult, **kept.event, latency_ms=latency_ms)
    return response


def csrf_placeholder(request: HttpRequest) -> dict[str, str]:
    """Context for rendering a page that may be kept: its CSRF token is a placeholder.

    The page's key (generation and synonym map included) is made now, before searching:
    a page rendered while a write or a synonym edit landed is kept under the older key,
    so nobody is given it afterwards.
    """
    if not is_cacheable(request):
        return {}
    if not hasattr(request, "search_page_key"):
        request.search_page_key = _key(request, results_generation())  # type: ignore[attr-defined]
    return {"csrf_token": CSRF_TOKEN_SLOT}


def keep_results_page(request: HttpRequest, response: HttpResponse, result: SearchResult) -> HttpResponse:
    """Keep ``response`` for the next anonymous visitor (OpenSearch answers only), and fill in this visitor's token."""
    key = getattr(request, "search_page_key", None)
    if key is None:
        return response
    html = response.content.decode(response.charset)
    if response.status_code == 200 and result.backend == "opensearch":
        event = {
            "query": result.query,
            "filters": result.filters.as_dict(),
            "sort": result.sort.key,
            "page": result.page.number,
            "result_count": result.total,
            "is_zero_result": result.is_zero_result,
            "backend": result.backend,
        }
        kept = KeptPage(
            compressed_html=zlib.compress(html.encode(), 1), content_type=response["Content-Type"], event=event
        )
        caches[PAGES_CACHE_ALIAS].set(key, kept, settings.SEARCH_PAGE_CACHE_SECONDS)
    response.content = _for_this_visitor(request, html).encode(response.charset)
    return response
