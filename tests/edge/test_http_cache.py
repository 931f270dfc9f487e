"""The shared HTTP cache in front of gunicorn (scripts/nginx.sh, docs/http-cache.md).

Every test runs the real thing: the project's gunicorn on the test database and the
project's nginx config in front of it, and reads what nginx says about each answer in
``X-Cache-Status`` and what reached gunicorn in its access log. A few properties concern
answers the project never gives on purpose (a public answer that sets a cookie, one that
varies on Cookie); those are checked against ``scripted_origin``, a tiny HTTP server whose
answer headers the test chooses, so the cache's own rule is what is tested.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.edge.conftest import NGINX_SCRIPT, HttpCache, fetch, free_port, running_http_cache
from tests.factories import BookFactory

pytestmark = pytest.mark.slow

GZIP = {"Accept-Encoding": "gzip"}
BROTLI = {"Accept-Encoding": "gzip, deflate, br"}


def wait_for_status(http_cache: HttpCache, path: str, wanted: str, timeout: float = 10.0) -> None:
    """Poll until nginx answers ``path`` with ``X-Cache-Status: wanted`` (a background update landed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_cache.get(path).header("X-Cache-Status") == wanted:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path} never answered {wanted} within {timeout}s")


def sleep_past(seconds: int) -> None:
    """nginx stores expiry in whole seconds: an entry good for N seconds may last up to N+1."""
    time.sleep(seconds + 1.2)


@pytest.fixture
def book():
    return BookFactory(title="Edge Caching for Booksellers")


@pytest.fixture
def book_path(book) -> str:
    return book.get_absolute_url()


# --- (a) hits -------------------------------------------------------------------------


def test_second_anonymous_get_of_a_book_page_is_a_hit(http_cache, gunicorn_server, book_path):
    first = http_cache.get(book_path)
    second = http_cache.get(book_path)

    assert first.status == 200
    assert first.header("X-Cache-Status") == "MISS"
    assert second.status == 200
    assert second.header("X-Cache-Status") == "HIT"
    assert second.body == first.body
    assert b"Edge Caching for Booksellers" in second.body
    assert gunicorn_server.requests_for(book_path) == 1


def test_hashed_static_files_are_kept_with_the_origins_immutable_headers(http_cache, gunicorn_server, collected_static):
    manifest = json.loads((collected_static / "static" / "staticfiles.json").read_text())
    path = "/static/" + manifest["paths"]["css/site.css"]

    first = http_cache.get(path)
    second = http_cache.get(path)

    assert first.status == 200
    assert first.header("X-Cache-Status") == "MISS"
    assert second.header("X-Cache-Status") == "HIT"
    assert "immutable" in (second.header("Cache-Control") or "")
    assert "max-age=31536000" in (second.header("Cache-Control") or "")
    assert gunicorn_server.requests_for(path) == 1


# --- (b) conditional requests and revalidation ---------------------------------------------


def test_a_conditional_get_with_the_etag_is_answered_304_by_the_cache(http_cache, gunicorn_server, book_path):
    etag = http_cache.get(book_path).header("ETag")
    assert etag

    answer = http_cache.get(book_path, {"If-None-Match": etag})

    assert answer.status == 304
    assert answer.body == b""
    assert answer.header("X-Cache-Status") == "HIT"
    assert gunicorn_server.requests_for(book_path) == 1


def test_a_conditional_get_with_the_weak_etag_of_a_compressed_copy_is_answered_304(http_cache, book_path):
    compressed = http_cache.get(book_path, GZIP)
    etag = compressed.header("ETag")
    assert etag
    assert etag.startswith('W/"')  # nginx weakens the ETag of a body it compressed

    answer = http_cache.get(book_path, {**GZIP, "If-None-Match": etag})

    assert answer.status == 304


@pytest.mark.parametrize("gunicorn_env", [{"PAGE_CACHE_SHARED_MAX_AGE": "1", "PAGE_CACHE_STALE_WHILE_REVALIDATE": "0"}])
def test_an_expired_page_is_revalidated_with_the_origin(http_cache, gunicorn_server, book_path):
    first = http_cache.get(book_path)
    sleep_past(1)

    again = http_cache.get(book_path)

    assert again.status == 200
    assert again.header("X-Cache-Status") == "REVALIDATED"
    assert again.body == first.body
    assert gunicorn_server.requests_for(book_path) == 2
    # The second request to gunicorn was conditional and answered 304 (no body sent).
    assert f'"GET {book_path} HTTP/1.1" 304' in gunicorn_server.access_log.read_text()


# --- (c) stale-while-revalidate ------------------------------------------------------------


@pytest.mark.parametrize(
    "gunicorn_env", [{"PAGE_CACHE_SHARED_MAX_AGE": "1", "PAGE_CACHE_STALE_WHILE_REVALIDATE": "30"}]
)
def test_within_stale_while_revalidate_the_stale_copy_answers_at_once_and_is_refreshed(
    http_cache, gunicorn_server, book_path
):
    first = http_cache.get(book_path)
    sleep_past(1)

    stale = http_cache.get(book_path)

    # nginx answered with its stored copy (STALE/UPDATING), not after asking gunicorn (EXPIRED).
    assert stale.status == 200
    assert stale.header("X-Cache-Status") in ("STALE", "UPDATING")
    assert stale.body == first.body
    wait_for_status(http_cache, book_path, "HIT")
    assert gunicorn_server.requests_for(book_path) == 2  # the first fetch and one background refresh


@pytest.mark.parametrize("gunicorn_env", [{"PAGE_CACHE_SHARED_MAX_AGE": "1", "PAGE_CACHE_STALE_WHILE_REVALIDATE": "1"}])
def test_past_the_stale_while_revalidate_window_the_refresh_is_synchronous(http_cache, gunicorn_server, book_path):
    http_cache.get(book_path)
    time.sleep(4.2)  # expired (1-2 s) plus the window (1-2 s), with margin

    answer = http_cache.get(book_path)

    assert answer.header("X-Cache-Status") == "REVALIDATED"


# --- (d) stale-if-error -----------------------------------------------------------------------


@pytest.mark.parametrize("gunicorn_env", [{"PAGE_CACHE_SHARED_MAX_AGE": "1", "PAGE_CACHE_STALE_WHILE_REVALIDATE": "0"}])
def test_with_gunicorn_stopped_cached_pages_are_served_stale_and_others_fail(http_cache, gunicorn_server, book_path):
    other_book_path = BookFactory(title="Never Asked For").get_absolute_url()
    cached = http_cache.get(book_path)
    gunicorn_server.stop()
    sleep_past(1)

    stale = http_cache.get(book_path)
    uncached = http_cache.get(other_book_path)

    assert stale.status == 200
    assert stale.header("X-Cache-Status") == "STALE"
    assert stale.body == cached.body
    assert uncached.status in (502, 504)


# --- (e) nothing personal is stored ----------------------------------------------------------


@pytest.mark.parametrize("cookie", ["sessionid=0123456789abcdefghijklmnopqrstuv", "messages=W1siX19qc29uIl1d"])
def test_a_request_with_a_session_or_messages_cookie_is_neither_served_from_nor_stored_in_the_cache(
    http_cache, gunicorn_server, book_path, cookie
):
    personal = http_cache.get(book_path, {"Cookie": cookie})
    anonymous = http_cache.get(book_path)
    personal_again = http_cache.get(book_path, {"Cookie": cookie})

    assert personal.header("X-Cache-Status") == "BYPASS"
    assert anonymous.header("X-Cache-Status") == "MISS"  # the personal answer was not stored
    assert personal_again.header("X-Cache-Status") == "BYPASS"  # nor is the shared copy served to it
    assert gunicorn_server.requests_for(book_path) == 3


def test_a_csrf_cookie_alone_still_gets_the_shared_page(http_cache, gunicorn_server, book_path):
    http_cache.get(book_path)

    answer = http_cache.get(book_path, {"Cookie": "csrftoken=abcdefghijklmnopqrstuvwxyz012345"})

    assert answer.header("X-Cache-Status") == "HIT"


def test_the_cart_page_is_never_stored(http_cache, gunicorn_server):
    first = http_cache.get("/cart/")
    second = http_cache.get("/cart/")

    assert first.status == 200
    assert "no-store" in (first.header("Cache-Control") or "")
    assert second.header("X-Cache-Status") == "MISS"
    assert gunicorn_server.requests_for("/cart/") == 2


def test_a_post_is_never_answered_from_or_stored_in_the_cache(http_cache, gunicorn_server, book_path):
    http_cache.get(book_path)
    form = b"book_id=1&quantity=1"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    posted = fetch(http_cache.url + book_path, method="POST", headers=headers, body=form)
    posted_again = fetch(http_cache.url + book_path, method="POST", headers=headers, body=form)
    read_after = http_cache.get(book_path)

    assert posted.header("X-Cache-Status") is None
    assert posted_again.header("X-Cache-Status") is None
    assert "no-store" in (posted.header("Cache-Control") or "")
    assert gunicorn_server.requests_for(book_path, method="POST") == 2
    assert read_after.status == 200
    assert read_after.header("X-Cache-Status") == "HIT"  # the GET copy, untouched by the POSTs


# --- Cache rules on answers the project never gives on purpose --------------------------------


class _ScriptedHandler(BaseHTTPRequestHandler):
    """Answers 200 with the headers named in the query: ``cc`` (Cache-Control), ``vary``,
    ``cookie`` (Set-Cookie); counts requests per path and keeps the last request's headers."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        server: ScriptedOrigin = self.server  # type: ignore[assignment]
        with server.lock:
            server.counts[parts.path] = server.counts.get(parts.path, 0) + 1
            server.last_headers = dict(self.headers.items())
        body = b"<html><body>" + b"scripted answer " * 40 + b"</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for field, header in (("cc", "Cache-Control"), ("vary", "Vary"), ("cookie", "Set-Cookie")):
            if field in query:
                self.send_header(header, query[field])
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class ScriptedOrigin(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), _ScriptedHandler)
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self.last_headers: dict[str, str] = {}

    @property
    def bind(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


@pytest.fixture
def scripted_origin() -> Iterator[ScriptedOrigin]:
    origin = ScriptedOrigin()
    thread = threading.Thread(target=origin.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin
    finally:
        origin.shutdown()
        origin.server_close()


@pytest.fixture
def scripted_cache(scripted_origin) -> Iterator[HttpCache]:
    with running_http_cache(scripted_origin.bind) as cache:
        yield cache


def test_a_public_answer_that_sets_a_cookie_is_not_stored(scripted_cache, scripted_origin):
    path = "/set-cookie?cc=public,s-maxage=60&cookie=tracking=1"

    scripted_cache.get(path)
    second = scripted_cache.get(path)

    assert second.header("X-Cache-Status") == "MISS"
    assert scripted_origin.counts["/set-cookie"] == 2


def test_an_answer_that_varies_on_cookie_is_not_stored(scripted_cache, scripted_origin):
    path = "/varies?cc=public,s-maxage=60&vary=Cookie,Accept-Encoding"

    scripted_cache.get(path)
    second = scripted_cache.get(path)

    assert second.header("X-Cache-Status") == "MISS"
    assert "Cookie" in ", ".join(second.header_values("Vary"))  # passed on to the browser
    assert scripted_origin.counts["/varies"] == 2


@pytest.mark.parametrize("header", [{"Authorization": "Bearer key"}, {"X-API-Key": "key"}])
def test_partner_api_calls_with_a_key_bypass_the_cache(scripted_cache, scripted_origin, header):
    path = "/api/v1/books/?cc=public,max-age=60"
    scripted_cache.get(path)

    answer = scripted_cache.get(path, header)

    assert answer.header("X-Cache-Status") == "BYPASS"


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/metrics", "/rum"])
def test_health_checks_metrics_and_beacons_bypass_the_cache_and_its_lock(scripted_cache, scripted_origin, path):
    # Looked up, concurrent requests for a never-kept path would wait on proxy_cache_lock.
    asked_before = scripted_origin.counts.get(path, 0)  # the fixture's readiness probe asks /health
    scripted_cache.get(path)

    answer = scripted_cache.get(path)

    assert answer.header("X-Cache-Status") == "BYPASS"
    assert scripted_origin.counts[path] == asked_before + 2


def test_an_answer_without_caching_headers_is_not_stored(scripted_cache, scripted_origin):
    scripted_cache.get("/plain")
    second = scripted_cache.get("/plain")

    assert second.header("X-Cache-Status") == "MISS"


def test_gunicorn_is_asked_for_identity_with_the_visitors_host_and_forwarded_headers(scripted_cache, scripted_origin):
    scripted_cache.get("/headers", GZIP)

    seen = {name.lower(): value for name, value in scripted_origin.last_headers.items()}
    assert "accept-encoding" not in seen
    assert seen["host"] == f"127.0.0.1:{scripted_cache.port}"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"


# --- (f) compression -----------------------------------------------------------------------------


def test_one_stored_copy_is_sent_gzip_brotli_or_identity_as_each_client_asks(http_cache, gunicorn_server, book_path):
    plain = http_cache.get(book_path)
    gzipped = http_cache.get(book_path, GZIP)
    brotli = http_cache.get(book_path, BROTLI)

    assert plain.header("Content-Encoding") is None
    assert gzipped.header("Content-Encoding") == "gzip"
    assert gzip.decompress(gzipped.body) == plain.body
    assert brotli.header("Content-Encoding") == "br"
    # No brotli decoder is installed here: a brotli stream is not gzip and much smaller.
    assert not brotli.body.startswith(b"\x1f\x8b")
    assert len(brotli.body) < len(plain.body) / 2
    assert [gzipped.header("X-Cache-Status"), brotli.header("X-Cache-Status")] == ["HIT", "HIT"]
    assert gunicorn_server.requests_for(book_path) == 1
    for answer in (plain, gzipped, brotli):
        assert answer.header_values("Vary") == ["Accept-Encoding"]


# --- (g) PURGE --------------------------------------------------------------------------------------


def test_purge_from_loopback_drops_the_entry(http_cache, gunicorn_server, book_path):
    http_cache.get(book_path)
    assert http_cache.get(book_path).header("X-Cache-Status") == "HIT"

    purged = fetch(http_cache.url + book_path, method="PURGE")
    purged_again = fetch(http_cache.url + book_path, method="PURGE")
    after = http_cache.get(book_path)

    assert purged.status == 200
    assert purged_again.status == 404
    assert after.header("X-Cache-Status") == "MISS"
    assert gunicorn_server.requests_for(book_path) == 2


def test_purge_from_another_address_is_refused_and_keeps_the_entry(http_cache, book_path):
    http_cache.get(book_path)

    refused = fetch(http_cache.url + book_path, method="PURGE", source_address="127.0.0.2")

    assert refused.status == 403
    assert http_cache.get(book_path).header("X-Cache-Status") == "HIT"


def test_the_purge_location_cannot_be_reached_directly(http_cache):
    assert http_cache.get("/.cloudshelf-purge").status == 404


# --- (h) HEAD -----------------------------------------------------------------------------------------


def test_head_is_answered_from_the_copy_a_get_stored_and_stores_one_itself(http_cache, gunicorn_server, book_path):
    head_first = fetch(http_cache.url + book_path, method="HEAD")
    get_after = http_cache.get(book_path)
    head_after = fetch(http_cache.url + book_path, method="HEAD")

    assert head_first.status == 200
    assert head_first.body == b""
    assert head_first.header("X-Cache-Status") == "MISS"
    assert get_after.header("X-Cache-Status") == "HIT"  # nginx asked gunicorn with a GET
    assert head_after.header("X-Cache-Status") == "HIT"
    assert head_after.header("ETag") == get_after.header("ETag")
    assert gunicorn_server.requests_for(book_path) == 1


# --- scripts/nginx.sh itself --------------------------------------------------------------------------


def run_script(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NGINX_SCRIPT), *arguments],
        env={**os.environ, "NGINX_DIR": "/tmp/cloudshelf-nginx-never-started", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NGINX_PORT", "80a", "NGINX_PORT=80a is not a port number"),
        ("NGINX_PORT", "70000", "NGINX_PORT=70000 is not a port number"),
        ("GUNICORN_BIND", "unix:/tmp/gunicorn.sock", "is not host:port"),
        ("GUNICORN_BIND", "127.0.0.1:99999", "has no valid port"),
        ("NGINX_WORKERS", "0", "NGINX_WORKERS=0 must be"),
        ("NGINX_CACHE_MAX_SIZE", "lots", "NGINX_CACHE_MAX_SIZE=lots must be a size"),
        ("NGINX_DIR", "relative/dir", "must be an absolute path"),
        ("NGINX_DIR", "/tmp/a dir; include /etc/passwd", "must be an absolute path"),
    ],
)
def test_start_refuses_bad_settings_with_a_clear_message(variable, value, message):
    result = run_script("start", **{variable: value})

    assert result.returncode == 1
    assert message in result.stderr


def test_an_unknown_command_prints_the_usage():
    result = run_script("restart")

    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_status_of_a_stopped_cache_exits_3():
    result = run_script("status")

    assert result.returncode == 3
    assert "stopped" in result.stdout
