"""Every kind of route gets its class, and a bounded route name (never the raw path)."""

from __future__ import annotations

import pytest
from django.test import Client

from analytics.metrics.classify import SERVICE_LEVELS_MS, classify, slow_threshold_ms
from tests.factories import BookFactory, UserFactory


def _route_of(emf_lines, client: Client, method: str, path: str) -> tuple[str, str]:
    emf_lines.raw.clear()
    response = getattr(client, method)(path)
    if response.streaming:
        response.close()  # a file response: WhiteNoise opened the file
    [line] = emf_lines.lines
    return line["RouteClass"], line["Route"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("get", "/", ("page", "catalog:home")),
        ("get", "/books/", ("page", "catalog:book-list")),
        ("get", "/categories/no/such/", ("page", "catalog:category")),
        ("get", "/accounts/login/", ("page", "login")),
        ("get", "/search/?q=hobbit", ("search", "search:results")),
        ("get", "/search/autocomplete?q=hob", ("search", "search:autocomplete")),
        ("get", "/cart/", ("cart", "cart:detail")),
        ("post", "/cart/add/", ("cart", "cart:add")),
        ("get", "/checkout/", ("cart", "cart:checkout")),
        ("get", "/orders/", ("cart", "cart:orders")),
        ("get", "/api/v1/books/", ("api", "api:book-list")),
        ("get", "/api/v1/no-such-endpoint/", ("api", "unmatched")),
        ("get", "/admin/", ("admin", "admin:index")),
        ("get", "/admin/login/", ("admin", "admin:login")),
        ("get", "/static/css/site.css", ("static", "static")),
        ("get", "/static/no-such-file.css", ("static", "static")),
        ("get", "/favicon.ico", ("static", "favicon")),
        ("get", "/media/covers/none.jpg", ("static", "media")),
        ("get", "/health", ("health", "health")),
        ("get", "/health/ready", ("health", "health-ready")),
        ("get", "/metrics", ("other", "metrics:prometheus")),
        ("post", "/rum", ("other", "analytics:rum")),
        ("get", "/wp-login.php", ("other", "unmatched")),
        ("get", "/books/../../etc/passwd", ("other", "unmatched")),
    ],
)
def test_each_kind_of_route_gets_its_class_and_pattern_name(emf_lines, method, path, expected):
    assert _route_of(emf_lines, Client(), method, path) == expected


@pytest.mark.django_db
def test_the_route_name_is_the_pattern_not_the_path(emf_lines):
    first, second = BookFactory(), BookFactory()
    client = Client()
    assert _route_of(emf_lines, client, "get", first.get_absolute_url()) == ("page", "catalog:book")
    assert _route_of(emf_lines, client, "get", second.get_absolute_url()) == ("page", "catalog:book")


@pytest.mark.django_db
def test_staff_report_pages_are_admin_whatever_their_namespace(emf_lines):
    client = Client()
    client.force_login(UserFactory(username="staff", is_staff=True))
    route_class, _ = _route_of(emf_lines, client, "get", "/admin/reports/")
    assert route_class == "admin"


def test_an_unresolved_request_is_classed_by_its_path():
    assert classify("/api/v2/whatever", None) == ("api", "unmatched")
    assert classify("/admin/x", None) == ("admin", "unmatched")
    assert classify("/healthz", None) == ("health", "unmatched")
    assert classify("/static/js/rum.js", None) == ("static", "static")
    assert classify("/" + "a" * 5000, None) == ("other", "unmatched")


def test_service_levels_are_the_architecture_documents_four():
    assert SERVICE_LEVELS_MS == {"page": 2000, "search": 500, "cart": 200, "api": 1000}


def test_slow_thresholds_default_to_the_service_levels(settings):
    del settings.METRICS_SLOW_REQUEST_MS
    classes = ("page", "search", "cart", "api", "admin", "static", "health", "other")
    assert [slow_threshold_ms(name) for name in classes] == [2000, 500, 200, 1000, 2000, 200, 200, 1000]
    assert slow_threshold_ms("nonsense") == 1000
