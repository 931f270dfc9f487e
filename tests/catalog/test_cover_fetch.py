"""Covers fetched into our storage (catalog.cover_fetch, catalog.tasks, fetch_covers, markup).

Every download goes to a real HTTP server on 127.0.0.1 started here, which serves real
images made with Pillow, slow and dribbling answers, errors, non-images, huge bodies,
decompression bombs and redirect loops. Files go to a temporary media folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import socket
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory
from django.utils import timezone
from PIL import Image

from catalog import cards
from catalog import cover_fetch as cover_fetch_module
from catalog.cards import book_cards_html, card_version
from catalog.cover_fetch import COVER_WIDTHS, CoverFetchStatus, books_needing_cover, cover_fetch
from catalog.markup import book_cover_html, cover_image_url
from catalog.models import Book
from catalog.selectors.pages import books_in_order
from catalog.signals import books_changed
from catalog.tasks import cover_fetch_queue, cover_fetch_task
from cloudshelf.celery import app as celery_app
from tests.factories import AuthorFactory, BookFactory
from tests.workers import real_worker

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
MAX_BYTES = 300_000


def image_bytes(
    size: tuple[int, int], image_format: str, *, mode: str = "RGB", colour: object = (200, 40, 40)
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, image_format)
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    data = bytearray(image_bytes((64, 64), "PNG"))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)


JPEG = image_bytes((600, 900), "JPEG")
SMALL_PNG = image_bytes((300, 450), "PNG", mode="RGBA", colour=(0, 0, 0, 0))
OTHER_JPEG = image_bytes((500, 750), "JPEG", colour=(20, 90, 200))


def _huge_streamed(handler: BaseHTTPRequestHandler) -> None:
    """No Content-Length: the size is only found out by reading."""
    handler.send_response(200)
    handler.send_header("Content-Type", "image/jpeg")
    handler.send_header("Connection", "close")
    handler.end_headers()
    chunk = b"\xff" * 65536
    for _ in range((MAX_BYTES * 4) // len(chunk)):
        handler.wfile.write(chunk)


def _hung_up(connection: socket.socket) -> bool:
    """Whether the client closed its end (readable, and nothing left to read) or the socket failed."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class ImageServer:
    """A threaded HTTP server on 127.0.0.1 that serves, delays and fails images by path."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.flaky_failures_left = 0
        self.slow_answers_in_flight = 0
        self.covers_served_beside_a_slow_answer = 0
        # Set by a test whose slow answer is asked for first: a cover then waits until that
        # request has arrived, so a thread that merely started sooner is not miscounted.
        self.covers_wait_for_a_slow_request = False
        self._slow_request_arrived = threading.Event()
        self._counting = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                # The client may hang up first (a timeout or a size limit): expected.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    server.answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.split("?")[0]

        def send(status: int, body: bytes, content_type: str = "image/jpeg", **headers: str) -> None:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", headers.pop("length", str(len(body))))
            for name, value in headers.items():
                handler.send_header(name.replace("_", "-"), value)
            handler.end_headers()
            handler.wfile.write(body)

        def redirect(location: str) -> None:
            handler.send_response(302)
            handler.send_header("Location", location)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        routes: dict[str, Callable[[], None]] = {
            "/cover.jpg": lambda: self._cover(send),
            "/other.jpg": lambda: send(200, OTHER_JPEG),
            "/small.png": lambda: send(200, SMALL_PNG, "image/png"),
            "/redirect": lambda: redirect("/cover.jpg"),
            "/loop-a": lambda: redirect("/loop-b"),
            "/loop-b": lambda: redirect("/loop-a"),
            "/to-ftp": lambda: redirect("ftp://127.0.0.1/cover.jpg"),
            "/to-file": lambda: redirect("file:///etc/passwd"),
            "/error": lambda: send(500, b"oops", "text/plain"),
            "/missing": lambda: send(404, b"not here", "text/plain"),
            "/busy": lambda: send(429, b"slow down", "text/plain", Retry_After="60"),
            "/page.html": lambda: send(200, b"<html>not a cover</html>", "text/html; charset=utf-8"),
            "/huge-declared.jpg": lambda: send(200, JPEG[:100], length=str(MAX_BYTES * 10)),
            "/huge-streamed.jpg": lambda: _huge_streamed(handler),
            "/superscript-length.jpg": lambda: send(200, JPEG, length="\N{SUPERSCRIPT TWO}", Connection="close"),
            "/bomb.png": lambda: send(200, png_declaring(20_000, 20_000), "image/png"),
            "/wide.png": lambda: send(200, png_declaring(8_000, 5_000), "image/png"),
            "/tiny.gif": lambda: send(200, image_bytes((1, 1), "GIF", mode="P", colour=0), "image/gif"),
            "/corrupt.jpg": lambda: send(200, JPEG[: len(JPEG) // 3]),
            "/vector.svg": lambda: send(200, b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
            "/slow.jpg": lambda: self._slow(handler, send),
            "/dribble.jpg": lambda: self._dribble(handler),
            "/flaky.jpg": lambda: self._flaky(send),
        }
        routes.get(path, lambda: send(404, b"", "text/plain"))()

    def _cover(self, send: Callable[..., None]) -> None:
        if self.covers_wait_for_a_slow_request:
            self._slow_request_arrived.wait(timeout=10)
        with self._counting:
            if self.slow_answers_in_flight:
                self.covers_served_beside_a_slow_answer += 1
        send(200, JPEG)

    def _slow(self, handler: BaseHTTPRequestHandler, send: Callable[..., None]) -> None:
        """No answer until the client gives up (at most 10 s); in flight while the client waits."""
        with self._counting:
            self.slow_answers_in_flight += 1
        self._slow_request_arrived.set()
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not _hung_up(handler.connection):
                time.sleep(0.02)
        finally:
            with self._counting:
                self.slow_answers_in_flight -= 1
        if not _hung_up(handler.connection):
            send(200, JPEG)

    def _dribble(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Length", str(len(JPEG)))
        handler.end_headers()
        for start in range(0, len(JPEG), 500):  # each piece within the read timeout, the whole far past the total
            handler.wfile.write(JPEG[start : start + 500])
            handler.wfile.flush()
            time.sleep(0.2)

    def _flaky(self, send: Callable[..., None]) -> None:
        if self.flaky_failures_left > 0:
            self.flaky_failures_left -= 1
            send(503, b"try later", "text/plain")
        else:
            send(200, JPEG)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[ImageServer]:
    image_server = ImageServer()
    yield image_server
    image_server.close()


@pytest.fixture(autouse=True)
def _cover_settings(settings, tmp_path):
    """Short limits so failures take a second, media in a temporary folder, loopback allowed."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_URL = "/media/"
    settings.SITE_URL = "https://shop.example"
    settings.COVER_FETCH_ALLOW_PRIVATE_HOSTS = True
    settings.COVER_FETCH_CONNECT_TIMEOUT = 0.5
    settings.COVER_FETCH_READ_TIMEOUT = 0.5
    settings.COVER_FETCH_TOTAL_TIMEOUT = 1.2
    settings.COVER_FETCH_MAX_BYTES = MAX_BYTES
    settings.COVER_FETCH_MAX_ATTEMPTS = 3
    settings.COVER_FETCH_RETRY_BASE_SECONDS = 60
    settings.COVER_FETCH_RETRY_MAX_SECONDS = 3600
    settings.COVER_FETCH_AUTOMATIC = False
    # The card cache's key digest reads SITE_URL and MEDIA_URL once per process.
    cards._code_digest.cache_clear()
    yield
    cards._code_digest.cache_clear()


@pytest.fixture
def announced() -> Iterator[list[int]]:
    """Book ids announced through ``books_changed`` (after the commit)."""
    ids: list[int] = []

    def listen(sender: object, book_ids: list[int], **kwargs: object) -> None:
        ids.extend(book_ids)

    books_changed.connect(listen, dispatch_uid="test-cover-fetch")
    yield ids
    books_changed.disconnect(dispatch_uid="test-cover-fetch")


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def stored_files(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()) if root.exists() else []


def book_state(book_id: int) -> dict[str, object]:
    return Book.objects.filter(pk=book_id).values().get()


def card_of(book: Book) -> str:
    request = RequestFactory().get("/books/")
    request.COOKIES = {}
    (card,) = book_cards_html(books_in_order([book.pk]), request=request)
    return str(card)


# --- Fetching ---------------------------------------------------------------------------------


def test_it_stores_webp_copies_at_the_page_widths_and_a_jpeg_for_open_graph(
    server, announced, django_capture_on_commit_callbacks
):
    book = BookFactory(cover_url=server.url("/cover.jpg"))

    with django_capture_on_commit_callbacks(execute=True):
        outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.FETCHED
    assert [(r.format, r.width, r.height) for r in outcome.renditions] == [
        ("webp", 200, 300),
        ("webp", 320, 480),
        ("webp", 400, 600),
        ("webp", 600, 900),  # the source is 600 wide: never enlarged to 640
        ("jpeg", 600, 900),
    ]
    for rendition in outcome.renditions:
        with default_storage.open(rendition.name) as handle, Image.open(handle) as image:
            assert (image.format, image.size, image.mode) == (
                rendition.format.upper(),
                (rendition.width, rendition.height),
                "RGB",
            )
        assert rendition.name.startswith(f"covers/{book.isbn13}/{rendition.width}w-")
    state = book_state(book.pk)
    assert state["cover_renditions"] == [rendition.to_json() for rendition in outcome.renditions]
    assert state["cover_source_url"] == server.url("/cover.jpg")
    assert state["cover_fetched_at"] is not None
    assert (state["cover_fetch_failures"], state["cover_fetch_error"], state["cover_retry_at"]) == (0, "", None)
    assert announced == [book.pk]


def test_widths_are_the_ones_the_pages_ask_for():
    assert COVER_WIDTHS == (200, 320, 400, 640)


def test_a_large_cover_gets_every_width(server, settings):
    big = image_bytes((1000, 1500), "JPEG")
    book = BookFactory(cover_url=server.url("/big.jpg"))
    original = server.answer

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/big.jpg":
            handler.send_response(200)
            handler.send_header("Content-Type", "image/jpeg")
            handler.send_header("Content-Length", str(len(big)))
            handler.end_headers()
            handler.wfile.write(big)
        else:
            original(handler)

    server.answer = answer

    outcome = cover_fetch(book_id=book.pk)

    assert [(r.format, r.width, r.height) for r in outcome.renditions] == [
        ("webp", 200, 300),
        ("webp", 320, 480),
        ("webp", 400, 600),
        ("webp", 640, 960),
        ("jpeg", 640, 960),
    ]


def test_a_small_transparent_png_is_not_enlarged_and_its_transparency_turns_white(server):
    book = BookFactory(cover_url=server.url("/small.png"))

    outcome = cover_fetch(book_id=book.pk)

    assert [(r.format, r.width, r.height) for r in outcome.renditions] == [
        ("webp", 200, 300),
        ("webp", 300, 450),
        ("jpeg", 300, 450),
    ]
    with default_storage.open(outcome.renditions[-1].name) as handle, Image.open(handle) as image:
        red, green, blue = image.getpixel((10, 10))
    assert min(red, green, blue) > 245


def test_it_follows_a_redirect_to_the_image(server):
    book = BookFactory(cover_url=server.url("/redirect"))

    outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.FETCHED
    assert server.requests == ["/redirect", "/cover.jpg"]
    assert book_state(book.pk)["cover_source_url"] == server.url("/redirect")


@pytest.mark.parametrize(
    ("path", "error", "will_retry"),
    [
        ("/slow.jpg", "timeout", True),
        ("/dribble.jpg", "timeout", True),
        ("/error", "http_status", True),
        ("/busy", "http_status", True),
        ("/missing", "http_status", False),
        ("/page.html", "not_an_image", False),
        ("/huge-declared.jpg", "too_large", False),
        ("/huge-streamed.jpg", "too_large", False),
        ("/bomb.png", "too_many_pixels", False),
        ("/wide.png", "too_many_pixels", False),
        ("/tiny.gif", "too_small", False),
        ("/corrupt.jpg", "invalid_image", False),
        ("/vector.svg", "invalid_image", False),
        ("/loop-a", "redirect_loop", False),
        ("/to-ftp", "unsupported_url", False),
        ("/to-file", "unsupported_url", False),
    ],
)
def test_a_failed_fetch_records_the_attempt_and_changes_nothing_else(
    server, settings, client, announced, django_capture_on_commit_callbacks, path, error, will_retry
):
    book = BookFactory(title="Unlucky", cover_url=server.url(path), authors=[AuthorFactory(name="Ann Author")])
    before = book_state(book.pk)
    started = time.monotonic()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = cover_fetch(book_id=book.pk)

    assert time.monotonic() - started < settings.COVER_FETCH_TOTAL_TIMEOUT + 0.5
    assert (outcome.status, outcome.error) == (CoverFetchStatus.FAILED, error)
    after = book_state(book.pk)
    assert after.pop("cover_fetch_failures") == 1
    assert after.pop("cover_fetch_error").startswith(f"{error}: ")
    retry_at = after.pop("cover_retry_at")
    if will_retry:
        assert retry_at == outcome.retry_at
        assert timedelta(seconds=55) < retry_at - timezone.now() <= timedelta(seconds=60)
    else:
        assert retry_at is None
        assert outcome.retry_at is None
    assert after.pop("cover_source_url") == server.url(path)
    for name in ("cover_fetch_failures", "cover_fetch_error", "cover_retry_at", "cover_source_url"):
        before.pop(name)
    # The row was updated, so its hot record version moved (a database trigger: docs/hot-data.md).
    assert after.pop("hot_version") == before.pop("hot_version") + 1
    assert after == before  # updated_at and the rest untouched
    assert announced == []
    assert stored_files(settings) == []
    html = client.get(book.get_absolute_url()).content.decode()
    assert '<svg class="cover cover--large"' in html
    assert 'aria-label="Cover of Unlucky by Ann Author"' in html
    assert server.base not in html
    assert "og:image" not in html


def test_a_content_length_of_non_ascii_digits_is_ignored_not_a_crash(server):
    """A Content-Length of "²" passes isdigit() but not int(): the size is found out by reading."""
    book = BookFactory(cover_url=server.url("/superscript-length.jpg"))

    outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.FETCHED, outcome.error


def test_private_addresses_are_refused_before_any_request(server, settings):
    settings.COVER_FETCH_ALLOW_PRIVATE_HOSTS = False
    loopback = BookFactory(cover_url=server.url("/cover.jpg"))
    metadata = BookFactory(cover_url="http://169.254.169.254/latest/meta-data/")

    outcomes = [cover_fetch(book_id=loopback.pk), cover_fetch(book_id=metadata.pk)]

    assert [(outcome.status, outcome.error) for outcome in outcomes] == [
        (CoverFetchStatus.FAILED, "private_address"),
        (CoverFetchStatus.FAILED, "private_address"),
    ]
    assert server.requests == []


def test_a_cover_url_that_is_not_http_is_refused():
    book = BookFactory()
    Book.objects.filter(pk=book.pk).update(cover_url="ftp://covers.example/1.jpg")

    outcome = cover_fetch(book_id=book.pk)

    assert (outcome.status, outcome.error, outcome.retry_at) == (CoverFetchStatus.FAILED, "unsupported_url", None)


def test_nothing_to_do_without_a_cover_url_or_a_book():
    book = BookFactory(cover_url="")

    assert cover_fetch(book_id=book.pk).status == CoverFetchStatus.NO_COVER_URL
    assert cover_fetch(book_id=book.pk + 1000).status == CoverFetchStatus.BOOK_MISSING


def test_running_twice_downloads_once(server, settings):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    first = cover_fetch(book_id=book.pk)
    files = stored_files(settings)
    state = book_state(book.pk)

    second = cover_fetch(book_id=book.pk)

    assert second.status == CoverFetchStatus.UNCHANGED
    assert server.requests == ["/cover.jpg"]
    assert stored_files(settings) == files
    assert len(files) == len(first.renditions) == 5
    assert book_state(book.pk) == state


def test_a_forced_fetch_of_the_same_image_stores_the_same_names(server, settings):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    first = cover_fetch(book_id=book.pk)
    files = stored_files(settings)

    again = cover_fetch(book_id=book.pk, force=True)

    assert again.status == CoverFetchStatus.FETCHED
    assert again.renditions == first.renditions
    assert stored_files(settings) == files


def test_two_books_with_the_same_image_share_nothing_but_store_once_each(server, settings):
    books = [BookFactory(cover_url=server.url("/cover.jpg")) for _ in range(2)]

    outcomes = [cover_fetch(book_id=book.pk) for book in books]

    assert {r.name.split("/")[1] for r in outcomes[0].renditions} == {books[0].isbn13}
    assert {r.name.split("/")[1] for r in outcomes[1].renditions} == {books[1].isbn13}
    assert len(stored_files(settings)) == 10


def test_failures_back_off_exponentially_and_give_up_after_the_last_attempt(server):
    server.flaky_failures_left = 10
    book = BookFactory(cover_url=server.url("/flaky.jpg"))

    first = cover_fetch(book_id=book.pk)
    not_due = cover_fetch(book_id=book.pk)
    delays = [first.retry_at - timezone.now()]
    for _ in range(2):
        Book.objects.filter(pk=book.pk).update(cover_retry_at=timezone.now() - timedelta(seconds=1))
        outcome = cover_fetch(book_id=book.pk)
        delays.append(outcome.retry_at - timezone.now() if outcome.retry_at else None)
    given_up = cover_fetch(book_id=book.pk)

    assert (first.status, first.error) == (CoverFetchStatus.FAILED, "http_status")
    assert (not_due.status, not_due.error) == (CoverFetchStatus.NOT_DUE, "http_status")
    assert timedelta(seconds=55) < delays[0] <= timedelta(seconds=60)
    assert timedelta(seconds=115) < delays[1] <= timedelta(seconds=120)
    assert delays[2] is None  # the third failure of three: given up
    assert given_up.status == CoverFetchStatus.GIVEN_UP
    assert book_state(book.pk)["cover_fetch_failures"] == 3
    assert server.requests == ["/flaky.jpg"] * 3


def test_the_retry_delay_is_capped(server, settings):
    settings.COVER_FETCH_MAX_ATTEMPTS = 20
    settings.COVER_FETCH_RETRY_MAX_SECONDS = 300
    book = BookFactory(cover_url=server.url("/error"))
    Book.objects.filter(pk=book.pk).update(
        cover_source_url=server.url("/error"),
        cover_fetch_failures=9,
        cover_retry_at=timezone.now() - timedelta(seconds=1),
    )

    outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.FAILED
    assert book_state(book.pk)["cover_fetch_failures"] == 10

    assert timedelta(seconds=295) < outcome.retry_at - timezone.now() <= timedelta(seconds=300)


def test_a_forced_fetch_retries_a_cover_given_up_on_and_clears_the_failure(server):
    book = BookFactory(cover_url=server.url("/flaky.jpg"))
    Book.objects.filter(pk=book.pk).update(
        cover_source_url=server.url("/flaky.jpg"), cover_fetch_failures=3, cover_fetch_error="http_status: HTTP 503"
    )

    assert cover_fetch(book_id=book.pk).status == CoverFetchStatus.GIVEN_UP
    outcome = cover_fetch(book_id=book.pk, force=True)

    assert outcome.status == CoverFetchStatus.FETCHED
    state = book_state(book.pk)
    assert (state["cover_fetch_failures"], state["cover_fetch_error"], state["cover_retry_at"]) == (0, "", None)


def test_a_failed_refetch_keeps_the_cover_already_shown(server):
    book = BookFactory(cover_url=server.url("/flaky.jpg"))
    fetched = cover_fetch(book_id=book.pk)
    server.flaky_failures_left = 1

    outcome = cover_fetch(book_id=book.pk, force=True)

    assert outcome.status == CoverFetchStatus.FAILED
    assert [r.name for r in Book.objects.get(pk=book.pk).fetched_cover] == [r.name for r in fetched.renditions]


def test_a_new_cover_url_hides_the_old_copies_and_is_fetched_afresh(server):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    old = cover_fetch(book_id=book.pk)
    Book.objects.filter(pk=book.pk).update(cover_url=server.url("/other.jpg"))

    waiting = Book.objects.get(pk=book.pk)
    needing = list(books_needing_cover())
    new = cover_fetch(book_id=book.pk)

    assert waiting.fetched_cover == []
    assert needing == [waiting]
    assert new.status == CoverFetchStatus.FETCHED
    assert {r.name for r in new.renditions}.isdisjoint({r.name for r in old.renditions})
    assert new.renditions[-1].width == 500
    assert Book.objects.get(pk=book.pk).fetched_cover == list(new.renditions)


def test_failures_of_an_earlier_cover_url_do_not_count_against_a_new_one(server):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    Book.objects.filter(pk=book.pk).update(
        cover_source_url=server.url("/gone.jpg"),
        cover_fetch_failures=2,
        cover_retry_at=timezone.now() + timedelta(days=1),
    )

    outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.FETCHED


def test_a_cover_url_changed_during_the_download_is_not_given_the_old_picture(server, monkeypatch, announced):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    download = cover_fetch_module._download

    def download_then_edit(url: str) -> bytes:
        data = download(url)
        Book.objects.filter(pk=book.pk).update(cover_url=server.url("/other.jpg"), title="Edited meanwhile")
        return data

    monkeypatch.setattr(cover_fetch_module, "_download", download_then_edit)

    outcome = cover_fetch(book_id=book.pk)

    assert outcome.status == CoverFetchStatus.SUPERSEDED
    state = book_state(book.pk)
    assert (state["cover_url"], state["title"], state["cover_renditions"], state["cover_fetched_at"]) == (
        server.url("/other.jpg"),
        "Edited meanwhile",
        [],
        None,
    )
    assert announced == []


def test_books_needing_cover_are_the_unfetched_and_the_due(server):
    never = BookFactory(cover_url=server.url("/a.jpg"))
    fetched = BookFactory(cover_url=server.url("/cover.jpg"))
    cover_fetch(book_id=fetched.pk)
    due = BookFactory(cover_url=server.url("/b.jpg"))
    not_due = BookFactory(cover_url=server.url("/c.jpg"))
    given_up = BookFactory(cover_url=server.url("/d.jpg"))
    BookFactory(cover_url="")
    past, future = timezone.now() - timedelta(seconds=1), timezone.now() + timedelta(hours=1)
    for book, retry_at in ((due, past), (not_due, future), (given_up, None)):
        Book.objects.filter(pk=book.pk).update(
            cover_source_url=book.cover_url, cover_fetch_failures=1, cover_retry_at=retry_at
        )

    assert list(books_needing_cover()) == [never, due]
    assert list(books_needing_cover(include_failed=True)) == [never, due, not_due, given_up]


# --- Pages ------------------------------------------------------------------------------------


def test_a_card_serves_our_copies_with_srcset_and_never_the_source(server):
    book = BookFactory(
        title='Cards & "Covers"', cover_url=server.url("/cover.jpg"), authors=[AuthorFactory(name="Ann")]
    )
    outcome = cover_fetch(book_id=book.pk)
    webp = [r for r in outcome.renditions if r.format == "webp"]

    html = card_of(book)

    srcset = ", ".join(f"/media/{r.name} {r.width}w" for r in webp)
    assert (
        f'<img class="cover" src="/media/{webp[0].name}" srcset="{srcset}" '
        'sizes="(max-width: 720px) calc(50vw - 24px), 200px" alt="Cover of Cards &amp; &quot;Covers&quot; by Ann" '
        'width="200" height="300" loading="lazy" decoding="async">'
    ) in html
    assert server.base not in html
    assert "<svg" not in html


def test_a_card_without_a_fetched_cover_shows_the_generated_one_not_the_source(server):
    book = BookFactory(title="Waiting", cover_url=server.url("/cover.jpg"))

    html = card_of(book)

    assert '<svg class="cover"' in html
    assert "<img" not in html
    assert server.base not in html


def test_the_card_version_follows_the_fetched_cover(server):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    before = card_version(books_in_order([book.pk])[0])

    cover_fetch(book_id=book.pk)
    fetched = card_version(books_in_order([book.pk])[0])
    Book.objects.filter(pk=book.pk).update(cover_url=server.url("/other.jpg"))
    changed_url = card_version(books_in_order([book.pk])[0])

    assert len({before, fetched, changed_url}) == 3
    assert card_of(book).count("<svg") == 1  # the new URL is not fetched yet


def test_the_book_page_serves_the_large_copy_and_an_absolute_open_graph_image(server, client):
    book = BookFactory(title="Pictured", cover_url=server.url("/cover.jpg"), authors=[AuthorFactory(name="Ann")])
    outcome = cover_fetch(book_id=book.pk)
    webp = [r for r in outcome.renditions if r.format == "webp"]
    jpeg = outcome.renditions[-1]

    html = client.get(book.get_absolute_url()).content.decode()

    srcset = ", ".join(f"/media/{r.name} {r.width}w" for r in webp)
    assert (
        f'<img class="cover cover--large" src="/media/{webp[1].name}" srcset="{srcset}" '
        'sizes="(max-width: 720px) min(60vw, 240px), (max-width: 900px) 240px, 320px" alt="Cover of Pictured by Ann" '
        'width="320" height="480" loading="eager" fetchpriority="high" decoding="async">'
    ) in html
    assert f'<meta property="og:image" content="https://shop.example/media/{jpeg.name}">' in html
    json_ld = html.split('<script type="application/ld+json">')[1].split("</script>")[0]
    assert json.loads(json_ld)["image"] == f"https://shop.example/media/{jpeg.name}"
    assert server.base not in html


def test_open_graph_uses_the_media_domain_when_media_is_on_a_cdn(server, settings):
    settings.MEDIA_URL = "https://cdn.example/media/"
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    jpeg = cover_fetch(book_id=book.pk).renditions[-1]
    book = books_in_order([book.pk])[0]

    assert cover_image_url(book) == f"https://cdn.example/media/{jpeg.name}"
    assert 'srcset="https://cdn.example/media/' in book_cover_html(book)


def test_the_cart_sized_cover_asks_for_the_smallest_copy(server):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    cover_fetch(book_id=book.pk)

    html = book_cover_html(books_in_order([book.pk])[0], "cover cover--small")

    assert 'sizes="72px"' in html
    assert 'width="200" height="300"' in html


def test_an_uploaded_cover_still_wins_over_a_fetched_one(server, settings):
    book = BookFactory(cover_url=server.url("/cover.jpg"))
    cover_fetch(book_id=book.pk)
    Book.objects.filter(pk=book.pk).update(cover_image="covers/uploaded.jpg")

    book = books_in_order([book.pk])[0]

    assert 'src="/media/covers/uploaded.jpg"' in book_cover_html(book)
    assert cover_image_url(book) == "https://shop.example/media/covers/uploaded.jpg"


# --- S3 (the moto server, as configured by the AWS settings) --------------------------------


@pytest.fixture
def media_on_s3(settings):
    """Media in a fresh bucket of the moto server, linked through a CloudFront domain."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        pytest.fail("AWS_ENDPOINT_URL is not set: run the tests with `make pytest` (TEST_ENV starts moto)")
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"cloudshelf-covers-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    settings.AWS_ENDPOINT_URL = endpoint
    settings.AWS_MEDIA_BUCKET_NAME = bucket
    settings.CLOUDFRONT_DOMAIN = "cdn.cloudshelf.test"
    settings.MEDIA_URL = "https://cdn.cloudshelf.test/media/"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "cloudshelf.edge.storages.S3MediaStorage"}}
    yield s3, bucket
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)


def test_covers_go_to_s3_with_immutable_caching_and_pages_link_the_cdn(server, media_on_s3):
    s3, bucket = media_on_s3
    book = BookFactory(cover_url=server.url("/cover.jpg"))

    outcome = cover_fetch(book_id=book.pk)
    again = cover_fetch(book_id=book.pk, force=True)

    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted(f"media/{r.name}" for r in outcome.renditions)
    assert again.renditions == outcome.renditions
    for rendition in outcome.renditions:
        head = s3.head_object(Bucket=bucket, Key=f"media/{rendition.name}")
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
        assert head["ContentType"] == f"image/{rendition.format}"
        body = s3.get_object(Bucket=bucket, Key=f"media/{rendition.name}")["Body"].read()
        assert Image.open(io.BytesIO(body)).size == (rendition.width, rendition.height)
    loaded = books_in_order([book.pk])[0]
    assert f'src="https://cdn.cloudshelf.test/media/{outcome.renditions[0].name}"' in book_cover_html(loaded)
    assert cover_image_url(loaded) == f"https://cdn.cloudshelf.test/media/{outcome.renditions[-1].name}"


# --- Celery and the import --------------------------------------------------------------------


def test_the_task_fetches_the_cover(server, eager_tasks):
    book = BookFactory(cover_url=server.url("/cover.jpg"))

    result = cover_fetch_task.delay(book.pk)

    assert result.get() == "fetched"
    assert len(Book.objects.get(pk=book.pk).fetched_cover) == 5


def test_queueing_fetches_only_the_books_that_need_one(
    server, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.COVER_FETCH_AUTOMATIC = True
    wanted = BookFactory(cover_url=server.url("/cover.jpg"))
    done = BookFactory(cover_url=server.url("/other.jpg"))
    cover_fetch(book_id=done.pk)
    without = BookFactory(cover_url="")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cover_fetch_queue(book_ids=[wanted.pk, done.pk, without.pk])

    assert len(callbacks) >= 1
    assert server.requests == ["/other.jpg", "/cover.jpg"]
    assert len(Book.objects.get(pk=wanted.pk).fetched_cover) == 5


def test_queueing_is_off_unless_automatic(server, eager_tasks, django_capture_on_commit_callbacks):
    book = BookFactory(cover_url=server.url("/cover.jpg"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        cover_fetch_queue(book_ids=[book.pk])

    assert callbacks == []
    assert server.requests == []


def test_an_import_queues_the_fetch_of_its_covers_after_the_commit(
    server, settings, tmp_path, eager_tasks, django_capture_on_commit_callbacks
):
    settings.COVER_FETCH_AUTOMATIC = True
    path = tmp_path / "books.csv"
    path.write_text(
        "isbn13,title,authors,price,cover_url\n"
        f"9780306406157,The Hobbit,J. R. R. Tolkien,9.99,{server.url('/cover.jpg')}\n"
        "9780141439518,Pride and Prejudice,Jane Austen,7.99,\n"
    )

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_books", str(path), stdout=io.StringIO())

    hobbit = Book.objects.get(isbn13="9780306406157")
    assert [r.width for r in hobbit.fetched_cover] == [200, 320, 400, 600, 600]
    assert Book.objects.get(isbn13="9780141439518").fetched_cover == []
    assert server.requests == ["/cover.jpg"]


def test_after_a_failure_that_may_pass_the_task_queues_its_next_try_for_when_it_is_due(server, monkeypatch):
    flaky = BookFactory(cover_url=server.url("/error"))
    missing = BookFactory(cover_url=server.url("/missing"))
    queued: list[dict[str, object]] = []
    monkeypatch.setattr(cover_fetch_task, "apply_async", lambda **kwargs: queued.append(kwargs))

    statuses = [cover_fetch_task(flaky.pk), cover_fetch_task(missing.pk)]  # as a worker calls it

    assert statuses == ["failed", "failed"]
    assert queued == [{"args": [flaky.pk], "eta": Book.objects.get(pk=flaky.pk).cover_retry_at}]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_fetches_a_queued_cover(server, settings, tmp_path):
    environment = {
        "DATA_DIR": str(tmp_path),  # MEDIA_ROOT is DATA_DIR/media, as the test's
        "COVER_FETCH_ALLOW_PRIVATE_HOSTS": "1",
        "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
    }
    with real_worker("covers", environment) as worker:
        book = BookFactory(cover_url=server.url("/cover.jpg"))
        cover_fetch_task.delay(book.pk)
        deadline = time.monotonic() + 30
        while not Book.objects.get(pk=book.pk).fetched_cover:
            worker.assert_alive()
            assert time.monotonic() < deadline, worker.text()
            time.sleep(0.2)

    renditions = Book.objects.get(pk=book.pk).fetched_cover
    assert [r.width for r in renditions] == [200, 320, 400, 600, 600]
    for rendition in renditions:
        assert (tmp_path / "media" / rendition.name).is_file()
    assert server.requests == ["/cover.jpg"]


# --- The command ------------------------------------------------------------------------------


def run_fetch_covers(*args: str) -> tuple[str, str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("fetch_covers", *args, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def test_the_command_fetches_what_is_due_and_sums_up(server):
    good = [BookFactory(cover_url=server.url("/cover.jpg")) for _ in range(2)]
    missing = BookFactory(cover_url=server.url("/missing"))

    out, err, error = run_fetch_covers("--workers", "1")

    assert out.strip().startswith("3 books: 2 fetched, 1 failed (0 to retry, 1 given up), 0 skipped (")
    assert f"book {missing.pk}: http_status: HTTP 404 (given up)" in err
    assert "3/3" in err  # the progress bar
    assert str(error) == "1 cover(s) could not be fetched; see the reasons above."
    assert all(Book.objects.get(pk=book.pk).fetched_cover for book in good)


def test_the_command_has_nothing_to_do_the_second_time(server):
    BookFactory(cover_url=server.url("/cover.jpg"))
    run_fetch_covers("--workers", "1")

    out, _, error = run_fetch_covers("--workers", "1")

    assert error is None
    assert out.strip().startswith("0 books: 0 fetched, 0 failed (0 to retry, 0 given up), 0 skipped (")
    assert server.requests == ["/cover.jpg"]


def test_the_command_respects_limit_and_retries_failed_only_when_asked(server):
    first = BookFactory(cover_url=server.url("/cover.jpg"))
    second = BookFactory(cover_url=server.url("/cover.jpg"))
    given_up = BookFactory(cover_url=server.url("/flaky.jpg"))
    Book.objects.filter(pk=given_up.pk).update(cover_source_url=given_up.cover_url, cover_fetch_failures=3)

    limited, _, _ = run_fetch_covers("--workers", "1", "--limit", "1")
    rest, _, _ = run_fetch_covers("--workers", "1")
    retried, _, error = run_fetch_covers("--workers", "1", "--retry-failed")

    assert limited.startswith("1 books: 1 fetched")
    assert Book.objects.get(pk=first.pk).fetched_cover
    assert rest.startswith("1 books: 1 fetched")
    assert Book.objects.get(pk=second.pk).fetched_cover
    assert retried.startswith("1 books: 1 fetched")
    assert error is None
    assert Book.objects.get(pk=given_up.pk).fetched_cover


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "0"], "--limit must be at least 1."),
        (["--workers", "0"], "--workers must be between 1 and 16."),
        (["--workers", "99"], "--workers must be between 1 and 16."),
    ],
)
def test_the_command_refuses_bad_options(args, message):
    _, _, error = run_fetch_covers(*args)

    assert str(error) == message


@pytest.mark.django_db(transaction=True)
def test_the_command_downloads_in_parallel_threads(server, settings):
    # The slow host holds its thread for the whole read timeout: long enough for the four
    # other covers on a loaded machine (what is asserted is where they were fetched, not when).
    settings.COVER_FETCH_READ_TIMEOUT = 3.0
    settings.COVER_FETCH_TOTAL_TIMEOUT = 4.0
    server.covers_wait_for_a_slow_request = True
    slow_then_fine = [BookFactory(cover_url=server.url("/slow.jpg"))] + [
        BookFactory(cover_url=server.url("/cover.jpg")) for _ in range(4)
    ]

    out, err, _ = run_fetch_covers("--workers", "3")

    assert out.strip().startswith("5 books: 4 fetched, 1 failed (1 to retry, 0 given up)")
    assert f"book {slow_then_fine[0].pk}: timeout:" in err
    # The slow host held one thread, not the others: every other cover was fetched meanwhile.
    assert server.covers_served_beside_a_slow_answer == 4
