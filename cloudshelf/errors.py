"""Error pages that look like the rest of the site.

``handler404`` renders with the full site template (navigation included): the request
and database are healthy, only the URL is wrong. ``handler400`` and ``handler403`` may
answer a request that middleware refused before it had a user or a session, so they use
``errors/layout.html`` (the site's header and stylesheet, no request needed); Django's
CSRF failure view renders ``403_csrf.html`` on the same layout. None of them says why
(an exception's text may be internal). ``handler500`` must work when the database, the
cache or a context processor is what failed, so it renders ``500.html`` — a
self-contained template with inline styles — without a request context and without
touching anything but the template loader.

What nginx refuses before Django runs (a request line or header too large, an upload over
its limit, gunicorn unreachable) gets nginx's copies of these pages, rendered from
``scripts/nginx/error-page.html``; gunicorn's own limits sit above nginx's
(``gunicorn.conf.py``), so its bare pages are never shown.
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseServerError,
)
from django.shortcuts import render
from django.template import loader


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site-styled 400 page (a ``SuspiciousOperation``: a bad Host, 1,000+ parameters, ...).

    Rendered without the request: a bad Host is refused by middleware before the request
    has a user or a session for base.html's personal slots. A body over
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413 instead: "too large" is the honest answer,
    and it tells a client not to retry the same body.
    """
    if isinstance(exception, RequestDataTooBig):
        return HttpResponse(loader.render_to_string("413.html"), status=413)
    return HttpResponseBadRequest(loader.render_to_string("400.html"))


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site-styled 403 page; says nothing about why, and needs nothing of the request."""
    return HttpResponseForbidden(loader.render_to_string("403.html"))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site-styled 404 page; says nothing about why (the exception text may be internal)."""
    context = {"page_title": "Page not found", "robots": "noindex"}
    return render(request, "404.html", context, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The site-styled 500 page, rendered with no request context and no database access."""
    return HttpResponseServerError(loader.get_template("500.html").render())
