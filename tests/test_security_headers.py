"""Security headers on every kind of response: Content-Security-Policy, Permissions-Policy, Referrer-Policy.

Pages are checked the way a browser enforcing the policy would: every inline script, style
block, style attribute and event-handler attribute in the served HTML must be allowed by the
policy served with it, or the page is broken (or unprotected).
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.test import Client

from catalog.selectors import pages
from cloudshelf.security import content_security_policy, inline_style_hashes, origin_of, policy_additions
from tests.factories import BookFactory, UserFactory
from tests.test_settings import PRODUCTION_SECRET_KEY, settings_for

pytestmark = pytest.mark.django_db

SITE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
DENIED_FEATURES = {"camera", "microphone", "geolocation", "payment", "usb", "serial", "bluetooth"}
# JSON data blocks are not run, so CSP does not apply to them (the book page's JSON-LD).
DATA_BLOCK_TYPES = {"application/ld+json", "application/json"}


def policy_of(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: [sources]}."""
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.status_code} {response.get('Content-Type')}"
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def permissions_of(response) -> dict[str, str]:
    header = response.headers.get("Permissions-Policy", "")
    return dict(part.strip().split("=", 1) for part in header.split(",") if part.strip())


def sha256_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


class InlineContent(HTMLParser):
    """What a page has inline: script and style bodies, style and on* attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.style_attributes: list[str] = []
        self.handler_attributes: list[str] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if "style" in attributes:
            self.style_attributes.append(f"<{tag} style={attributes['style']!r}>")
        self.handler_attributes += [f"<{tag} {name}>" for name in attributes if name.startswith("on")]
        if tag == "script" and "src" not in attributes and attributes.get("type") not in DATA_BLOCK_TYPES:
            self._open = ("script", [])
        elif tag == "style":
            self._open = ("style", [])

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag == self._open[0]:
            (self.scripts if tag == "script" else self.styles).append("".join(self._open[1]))
            self._open = None


def inline_content(response) -> InlineContent:
    parser = InlineContent()
    parser.feed(response.content.decode())
    return parser


def assert_inline_content_allowed(response) -> None:
    """Everything inline in the page is allowed by its policy (hash or, for styles only, 'unsafe-inline')."""
    policy = policy_of(response)
    content = inline_content(response)
    assert not content.scripts or all(sha256_source(body) in policy["script-src"] for body in content.scripts)
    assert "'unsafe-inline'" not in policy["script-src"]
    assert not content.handler_attributes
    styles = policy["style-src"]
    assert "'unsafe-inline'" in styles or all(sha256_source(body) in styles for body in content.styles)
    assert "'unsafe-inline'" in styles or not content.style_attributes, content.style_attributes


def assert_security_headers(response, *, policy: dict[str, list[str]] = SITE_POLICY) -> None:
    assert policy_of(response) == policy
    assert {feature for feature, allowed in permissions_of(response).items() if allowed == "()"} >= DENIED_FEATURES
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def rated_book():
    return BookFactory(title="Dune", average_rating=Decimal("3.70"), ratings_count=12)


def test_the_home_page_has_nothing_inline_and_the_site_policy(client, rated_book):
    response = client.get("/")
    assert response.status_code == 200
    assert_security_headers(response)
    content = inline_content(response)
    assert (content.scripts, content.styles, content.style_attributes, content.handler_attributes) == ([], [], [], [])


def test_a_book_page_has_nothing_inline_but_its_json_ld(client, rated_book):
    response = client.get(rated_book.get_absolute_url())
    assert response.status_code == 200
    assert_security_headers(response)
    content = inline_content(response)
    assert b'<script type="application/ld+json">' in response.content
    assert (content.scripts, content.styles, content.style_attributes) == ([], [], [])


def test_a_page_replayed_by_the_page_cache_keeps_the_headers(client, rated_book):
    first = client.get("/books/")
    replayed = Client().get("/books/")
    assert replayed["X-Page-Cache"] == "hit"
    assert replayed.content == first.content
    assert_security_headers(first)
    assert_security_headers(replayed)


def test_a_json_endpoint_has_the_headers(client, rated_book):
    response = client.get("/search/autocomplete", {"q": "Dun"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert_security_headers(response)


def test_a_static_file_has_the_headers(client):
    response = client.get("/static/css/site.css")
    response.close()  # a file response: WhiteNoise opened the file
    assert response.status_code == 200
    assert_security_headers(response)


def test_the_404_page_has_the_headers(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_security_headers(response)
    assert_inline_content_allowed(response)


def test_the_500_page_may_use_exactly_its_own_style_block(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the listing broke")

    monkeypatch.setattr(pages, "book_page", broken)
    client.raise_request_exception = False
    response = client.get("/books/", {"sort": "newest"})
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    (style,) = inline_content(response).styles
    assert_security_headers(response, policy=SITE_POLICY | {"style-src": ["'self'", sha256_source(style)]})
    assert_inline_content_allowed(response)


def test_hsts_asks_for_this_host_only_unless_told(client, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    settings.SECURE_HSTS_PRELOAD = False
    assert client.get("/no-such-page/", secure=True)["Strict-Transport-Security"] == "max-age=3600"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("path", ["/admin/", "/admin/catalog/book/", "/admin/auth/group/add/", "/admin/login/"])
def test_admin_pages_are_allowed_their_inline_content_and_no_more(staff_client, rated_book, path):
    response = staff_client.get(path)
    assert response.status_code in {200, 302}
    expected = SITE_POLICY | {"style-src": ["'self'", *inline_style_hashes("admin/change_list.html")]}
    assert policy_of(response) == expected
    assert "'unsafe-inline'" not in policy_of(response)["style-src"]
    assert_inline_content_allowed(response)


def test_the_admin_change_list_style_block_is_allowed_by_its_hash():
    # The one constant inline block of Django's admin templates (a change list without actions).
    (expected,) = inline_style_hashes("admin/change_list.html")
    assert expected == sha256_source("\n      #changelist table thead th:first-child {width: inherit}\n    ")
    assert expected in policy_additions("/admin/catalog/book/", 200)["style-src"]
    assert "style-src" not in policy_additions("/books/", 200)


def test_swagger_ui_runs_no_inline_script(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert inline_content(page).scripts == []
    policy = policy_of(page)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert_inline_content_allowed(page)
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content


def test_redoc_may_style_inline_and_start_a_blob_worker_but_not_run_inline_script(client):
    page = client.get("/api/docs/redoc/")
    assert page.status_code == 200
    policy = policy_of(page)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert_inline_content_allowed(page)


def test_static_and_media_on_s3_behind_cloudfront_are_allowed(monkeypatch):
    values = settings_for(
        monkeypatch,
        AWS_STORAGE_BUCKET_NAME="cloudshelf-assets",
        CLOUDFRONT_DOMAIN="cdn.example.com",
        HTTPS="1",
        SECRET_KEY=PRODUCTION_SECRET_KEY,
    )
    directives = values["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    for directive in ("script-src", "style-src", "font-src", "img-src"):
        assert "https://cdn.example.com" in directives[directive]
    assert directives["connect-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]


def test_media_in_a_bucket_of_its_own_is_allowed_as_images_only():
    directives = content_security_policy(
        static_url="/static/", media_url="https://media.s3.us-east-1.amazonaws.com/media/"
    )["DIRECTIVES"]
    assert directives["img-src"] == ["'self'", "data:", "https://media.s3.us-east-1.amazonaws.com"]
    assert directives["script-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("/static/", None),
        ("https://cdn.example.com/static/", "https://cdn.example.com"),
        ("http://127.0.0.1:55000/bucket/static/", "http://127.0.0.1:55000"),
        ("//cdn.example.com/static/", None),
        ("javascript:alert(1)//", None),
        ("", None),
    ],
)
def test_only_http_origins_of_static_and_media_urls_enter_the_policy(url, origin):
    assert origin_of(url) == origin
