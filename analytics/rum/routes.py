"""Which pages send beacons, and the route class each belongs to.

A beacon names its page by URL name (``catalog:book``), never by path: a path carries a
query string, an order reference or a reset token, and a name does not. The names a beacon
may carry are the site's own customer pages, read from the URL configuration once, so a
beacon cannot fill the table with made-up routes and a new page is covered without a list
to keep up to date.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache

from django.urls import URLPattern, URLResolver, get_resolver

# URL prefixes and names that are not customer pages: staff, the partner API, machinery.
NON_PAGE_PREFIXES = ("admin/", "api/")
NON_PAGE_NAMES = frozenset({"health", "health-ready", "favicon", "media", "logout", "search:autocomplete"})
NON_PAGE_NAMESPACES = frozenset({"analytics", "metrics"})
# The route class of a namespace's pages (the server's classes, analytics.metrics); the rest are "page".
NAMESPACE_CLASSES = {"search": "search", "cart": "cart"}
PAGE_CLASS = "page"
# The book page: its beacon also counts a product view.
BOOK_ROUTE = "catalog:book"


def _named_patterns(
    patterns: Iterable[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    """(full route, namespaced name) of every named pattern under ``patterns``."""
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _named_patterns(pattern.url_patterns, route, inner)
        elif pattern.name:
            yield route, namespace + pattern.name


def route_class_of(name: str) -> str:
    """The route class of the page named ``name``: ``search``, ``cart`` or ``page``."""
    namespace = name.split(":", 1)[0] if ":" in name else ""
    return NAMESPACE_CLASSES.get(namespace, PAGE_CLASS)


@cache
def page_routes() -> dict[str, str]:
    """Every customer page's URL name and its route class (computed once per process)."""
    routes = {}
    for route, name in _named_patterns(get_resolver().url_patterns):
        namespace = name.split(":", 1)[0] if ":" in name else ""
        if route.startswith(NON_PAGE_PREFIXES) or name in NON_PAGE_NAMES or namespace in NON_PAGE_NAMESPACES:
            continue
        routes[name] = route_class_of(name)
    return routes
