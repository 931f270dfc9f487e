"""HTTP caching headers: shared pages say so, everything else is private by default.

A shared cache (the local nginx, CloudFront) may keep a response only when the origin
says it may, and the safe default for anything that does not say is ``private,
no-store``: a personal page, a POST answer or an error page kept at the edge would be
shown to the next visitor. So ``DefaultPrivateMiddleware`` marks every response that
set no ``Cache-Control`` of its own, and demotes a ``public`` response that sets a
cookie (a shared response must never carry one).

Shared pages (``mark_shared``) get ``public, max-age, s-maxage, stale-while-revalidate,
stale-if-error`` (RFC 9111, RFC 5861) from settings:

* ``max-age`` (browsers): ``PAGE_CACHE_BROWSER_MAX_AGE``, 0 by default — a browser
  cannot be purged, and a visitor who just added to their cart must not be shown the
  anonymous copy their browser kept; with 0 it revalidates (a 304 when nothing changed).
* ``s-maxage`` (shared caches): ``PAGE_CACHE_SHARED_MAX_AGE``; changes purge the paths
  that show a book (``cloudshelf.edge.cdn``), the rest catches up within it.
* ``stale-while-revalidate`` / ``stale-if-error``: serve the previous copy while
  refreshing, and when the origin fails.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt, csrf_protect

PRIVATE = "private, no-store"


def shared_cache_control(*, shared_max_age: int | None = None) -> str:
    """The ``Cache-Control`` value of a page every visitor without a session may share.

    ``shared_max_age`` shortens ``s-maxage`` (and ``max-age``) for a page that is right only briefly.
    """
    shared = (
        settings.PAGE_CACHE_SHARED_MAX_AGE
        if shared_max_age is None
        else min(shared_max_age, settings.PAGE_CACHE_SHARED_MAX_AGE)
    )
    browser = min(settings.PAGE_CACHE_BROWSER_MAX_AGE, shared)
    return (
        f"public, max-age={browser}, s-maxage={shared}, "
        f"stale-while-revalidate={settings.PAGE_CACHE_STALE_WHILE_REVALIDATE}, "
        f"stale-if-error={settings.PAGE_CACHE_STALE_IF_ERROR}"
    )


def mark_shared(response: HttpResponseBase, *, shared_max_age: int | None = None) -> None:
    """Let browsers, shared caches and CDNs keep ``response`` (see the module docstring)."""
    response["Cache-Control"] = shared_cache_control(shared_max_age=shared_max_age)


def mark_private(response: HttpResponseBase) -> None:
    """Nobody may keep ``response``: it is one visitor's."""
    response["Cache-Control"] = PRIVATE


class DefaultPrivateMiddleware:
    """``private, no-store`` on every response that does not declare itself cacheable.

    Sits first in ``MIDDLEWARE`` so it sees the response last, after the session and
    CSRF middleware have added their cookies.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        is_undeclared = request.method not in ("GET", "HEAD") or not response.has_header("Cache-Control")
        if is_undeclared or (response.cookies and "public" in response["Cache-Control"]):
            mark_private(response)
        return response


def is_same_origin(request: HttpRequest) -> bool:
    """Whether the browser says ``request`` comes from one of our own pages.

    ``Sec-Fetch-Site`` (every current browser sends it) is authoritative; without it, an
    ``Origin`` naming this site or a trusted origin. Neither header: not proven.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS


def csrf_token_optional_without_session(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """CSRF protection for a write a shared (kept) page offers to visitors who have no session yet.

    A page every visitor without a session shares cannot carry a token of theirs (and
    setting a CSRF cookie would make it unshareable), so its add-to-cart forms post
    without one. Such a post is accepted when the browser proves it same-origin
    (``is_same_origin``). There is nothing of theirs to forge: no session means no cart
    or account yet, and a cross-site post would fail the origin check anyway. Every
    visitor *with* a session gets pages with their token and the full check.
    """
    protected = csrf_protect(view)

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES and is_same_origin(request):
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    return csrf_exempt(wrapped)
