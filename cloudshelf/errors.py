"""Error pages that look like the rest of the site.

``handler404`` renders with the full site template (navigation included): the request
and database are healthy, only the URL is wrong. ``handler500`` must work when the
database, the cache or a context processor is what failed, so it renders
``500.html`` — a self-contained template with inline styles — without a request
context and without touching anything but the template loader.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The site-styled 404 page; says nothing about why (the exception text may be internal)."""
    context = {"page_title": "Page not found", "robots": "noindex"}
    return render(request, "404.html", context, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The site-styled 500 page, rendered with no request context and no database access."""
    return HttpResponseServerError(loader.get_template("500.html").render())
