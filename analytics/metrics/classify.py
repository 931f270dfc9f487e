"""Which route class and route name a request belongs to.

Every request is one of eight *route classes*, the unit the service levels are stated in
(docs/architecture.md: page < 2 s, search < 500 ms, cart < 200 ms, API < 1 s at p95), and
has a *route name*: the URL pattern's name (``catalog:book``), never the raw path, so the
number of CloudWatch dimension values stays bounded whatever URLs clients make up.
Unresolved paths (404s) are ``unmatched``; static files served by WhiteNoise before any URL
resolution are ``static``.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import ResolverMatch

ROUTE_CLASSES: Final = ("page", "search", "cart", "api", "admin", "static", "health", "other")

# The architecture document's four service levels: p95 of each class, in milliseconds.
SERVICE_LEVELS_MS: Final = {"page": 2000, "search": 500, "cart": 200, "api": 1000}

# Slow-request thresholds when settings name none (settings.METRICS_SLOW_REQUEST_MS overrides).
DEFAULT_SLOW_REQUEST_MS: Final = {**SERVICE_LEVELS_MS, "admin": 2000, "static": 200, "health": 200, "other": 1000}

UNMATCHED: Final = "unmatched"

# URL namespaces of the apps: customer pages, search, the cart and its checkout and orders.
_CLASS_OF_NAMESPACE: Final = {"catalog": "page", "search": "search", "cart": "cart", "api": "api", "admin": "admin"}
# Un-namespaced names that are not customer pages (the rest are the account pages).
_CLASS_OF_NAME: Final = {"health": "health", "health-ready": "health", "favicon": "static", "media": "static"}
# Namespaces of machinery that is neither a page nor an API: the RUM beacon, /metrics.
_OTHER_NAMESPACES: Final = frozenset({"analytics", "metrics", "rum"})


def _path_prefix(url: str) -> str:
    """The path part of a ``STATIC_URL``/``MEDIA_URL`` (empty when it names another host only)."""
    return urlsplit(url).path if url else ""


def route_class_of_path(path: str) -> str:
    """The class of a request no URL pattern matched, from its path alone."""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    if path.startswith("/health"):
        return "health"
    static_prefix = _path_prefix(settings.STATIC_URL)
    media_prefix = _path_prefix(settings.MEDIA_URL)
    if (
        (static_prefix and path.startswith(static_prefix))
        or (media_prefix and path.startswith(media_prefix))
        or path == "/favicon.ico"
    ):
        return "static"
    return "other"


def classify(path: str, match: ResolverMatch | None) -> tuple[str, str]:
    """``(route class, route name)`` of a request, from its resolved URL (when there is one) and path."""
    if match is None or not match.url_name:
        route_class = route_class_of_path(path)
        return route_class, "static" if route_class == "static" else UNMATCHED
    namespace = match.namespaces[0] if match.namespaces else ""
    return _class_of_view(namespace, match.url_name, path), match.view_name


def _class_of_view(namespace: str, url_name: str, path: str) -> str:
    if path.startswith("/admin/"):  # the admin and staff report pages, whatever their namespace
        return "admin"
    if namespace in _CLASS_OF_NAMESPACE:
        return _CLASS_OF_NAMESPACE[namespace]
    if namespace in _OTHER_NAMESPACES or path == "/metrics":
        return "other"
    if not namespace:
        return _CLASS_OF_NAME.get(url_name, "page")  # the account pages are customer pages
    return route_class_of_path(path)


def slow_threshold_ms(route_class: str) -> float:
    """Above this a request of ``route_class`` logs a slow-request warning."""
    thresholds: dict[str, float] = getattr(settings, "METRICS_SLOW_REQUEST_MS", DEFAULT_SLOW_REQUEST_MS)
    return thresholds.get(route_class, DEFAULT_SLOW_REQUEST_MS["other"])
