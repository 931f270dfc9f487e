"""Fetch a book's ``cover_url`` into our own media storage, resized to the sizes pages show.

Imported books name their cover on someone else's host. Linking it from our pages meant a
slow or gone host showed a broken image, so pages never link it: ``cover_fetch`` downloads
it once (strict limits: schemes, addresses, time, bytes, pixels, formats), checks it is a
real image, and stores WebP copies at the widths the pages use plus one JPEG for Open
Graph, under names that carry a digest of their bytes (cacheable for ever). Until that
has happened, or when it cannot, pages show the generated cover (``catalog.covers``).

It is idempotent: a book whose current ``cover_url`` is already fetched is left alone,
and running twice stores the same names. A failure is recorded on the book and retried
later with an exponential delay when it may pass (timeouts, 5xx, 429), or given up at
once when it will not (a 404, not an image, too big); ``fetch_covers --retry-failed``
tries those again. See docs/covers.md.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import logging
import socket
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from catalog.models import Book, CoverRendition
from catalog.services import announce_books_changed

logger = logging.getLogger(__name__)

# Widths (CSS pixels x 1 and x 2) of the slots covers fill, from static/css/site.css:
# a card is ~170-200 px wide (phones: half the screen, up to ~340 px), the book page's
# cover at most 320 px (240 px under 900 px), the cart's 72 px. Keep in step with
# ``catalog.markup.COVER_SLOTS``.
COVER_WIDTHS = (200, 320, 400, 640)
# Open Graph: one JPEG, since not every link-preview crawler reads WebP.
OPEN_GRAPH_WIDTH = 640
ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
_CHUNK_BYTES = 64 * 1024
_REDIRECT_STATUSES = {301, 302, 303, 307, 308}
# HTTP answers worth asking again later; every other 4xx means the cover is not there.
_TRANSIENT_STATUSES = {408, 425, 429}
_USER_AGENT = "CloudShelf-cover-fetch/1.0 (+https://github.com/cloudshelf)"


class CoverFetchStatus(StrEnum):
    """What one ``cover_fetch`` call did."""

    FETCHED = "fetched"  # stored and recorded; the pages now show it
    UNCHANGED = "unchanged"  # this cover_url was fetched already; nothing done
    NO_COVER_URL = "no_cover_url"  # the book names no cover
    BOOK_MISSING = "book_missing"  # no book with that id (deleted meanwhile)
    NOT_DUE = "not_due"  # failed before; its next try is later (cover_retry_at)
    GIVEN_UP = "given_up"  # failed before for good; only a forced fetch tries again
    FAILED = "failed"  # this try failed; ``retry_at`` says when the next is due (None: given up)
    SUPERSEDED = "superseded"  # cover_url changed while downloading; the new one needs its own fetch


@dataclass(frozen=True)
class CoverFetchOutcome:
    """The result of ``cover_fetch``: ``error`` is a short code, ``detail`` a sentence for people."""

    book_id: int
    status: CoverFetchStatus
    error: str = ""
    detail: str = ""
    retry_at: datetime | None = None
    renditions: tuple[CoverRendition, ...] = ()


class CoverError(Exception):
    """A cover could not be fetched. ``code`` names the reason; ``transient`` says a retry may succeed."""

    def __init__(self, code: str, detail: str, *, transient: bool = False) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.transient = transient


def cover_fetch(*, book_id: int, force: bool = False) -> CoverFetchOutcome:
    """Fetch book ``book_id``'s ``cover_url`` into media storage and record the copies on the book.

    ``force`` fetches even when the cover is already fetched, not yet due or given up
    (``fetch_covers --retry-failed``). Network and image work happen outside any
    transaction; the book's row is then locked only to write the cover columns, and only
    if its ``cover_url`` is still the one downloaded, so a concurrent edit of the book is
    never overwritten and a changed URL is never given the old picture.
    """
    book = Book.objects.filter(pk=book_id).only(*_STATE_FIELDS).first()
    if book is None:
        return CoverFetchOutcome(book_id, CoverFetchStatus.BOOK_MISSING)
    skipped = _skip_reason(book, force=force)
    if skipped is not None:
        failed_before = skipped in (CoverFetchStatus.NOT_DUE, CoverFetchStatus.GIVEN_UP)
        return CoverFetchOutcome(
            book_id,
            skipped,
            error=book.cover_fetch_error.partition(":")[0] if failed_before else "",
            detail=book.cover_fetch_error.partition(": ")[2] if failed_before else "",
            retry_at=book.cover_retry_at,
        )
    source_url = book.cover_url
    try:
        image = _open_image(_download(source_url))
        renditions = _store_renditions(image, isbn13=book.isbn13)
    except CoverError as error:
        return _record_failure(book_id, source_url, error)
    return _record_success(book_id, source_url, renditions)


def books_needing_cover(*, include_failed: bool = False) -> QuerySet[Book]:
    """Books whose ``cover_url`` is not fetched yet and is due a try, oldest first.

    That is: never tried for this URL, or failed and due again. ``include_failed`` adds
    every failed one whatever its schedule, given up or not (``fetch_covers --retry-failed``).
    """
    not_fetched = Q(cover_fetched_at__isnull=True)
    due = ~Q(cover_source_url=F("cover_url")) | (not_fetched & Q(cover_fetch_failures=0))
    if include_failed:
        due |= not_fetched
    else:
        due |= not_fetched & Q(cover_retry_at__lte=timezone.now())
    return Book.objects.exclude(cover_url="").filter(due).order_by("pk")


def cover_needs_fetch(book: Book) -> bool:
    """Whether ``book``'s ``cover_url`` is still to fetch and due (the test ``books_needing_cover`` makes in SQL)."""
    return _skip_reason(book, force=False) is None


# --- Internals ---------------------------------------------------------------------------

_STATE_FIELDS = (
    "isbn13",
    "cover_url",
    "cover_source_url",
    "cover_renditions",
    "cover_fetched_at",
    "cover_fetch_failures",
    "cover_fetch_error",
    "cover_retry_at",
)


def _skip_reason(book: Book, *, force: bool) -> CoverFetchStatus | None:
    if not book.cover_url:
        return CoverFetchStatus.NO_COVER_URL
    if force or book.cover_source_url != book.cover_url:
        return None
    if book.cover_fetched_at is not None:
        return CoverFetchStatus.UNCHANGED
    if book.cover_fetch_failures == 0:
        return None
    if book.cover_retry_at is None:
        return CoverFetchStatus.GIVEN_UP
    if book.cover_retry_at > timezone.now():
        return CoverFetchStatus.NOT_DUE
    return None


def _check_url(url: str) -> None:
    """Refuse anything but http(s) to a public address (unless private hosts are allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CoverError("unsupported_url", f"{url[:200]!r} is not an http(s) URL")
    if settings.COVER_FETCH_ALLOW_PRIVATE_HOSTS:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except (OSError, UnicodeError) as error:
        raise CoverError("connection", f"{parts.hostname} cannot be resolved ({error})", transient=True) from None
    for address in addresses:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            # Imported files name the hosts: never let one reach our own network or a cloud metadata endpoint.
            raise CoverError("private_address", f"{parts.hostname} resolves to a non-public address ({address})")


def _download(url: str) -> bytes:
    """The body at ``url``: redirects followed by hand (each target checked), bounded in time and size."""
    deadline = time.monotonic() + settings.COVER_FETCH_TOTAL_TIMEOUT
    seen: set[str] = set()
    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        session.headers["Accept"] = "image/webp,image/avif,image/jpeg,image/png,image/*;q=0.8"
        for _ in range(settings.COVER_FETCH_MAX_REDIRECTS + 1):
            _check_url(url)
            seen.add(url)
            response = _get(session, url, deadline)
            with response:
                if response.status_code in _REDIRECT_STATUSES:
                    location = response.headers.get("Location", "")
                    if not location:
                        raise CoverError("http_status", f"HTTP {response.status_code} without a Location")
                    url = urljoin(url, location)
                    if url in seen:
                        raise CoverError("redirect_loop", f"redirect loop at {url[:200]}")
                    continue
                _check_response(response)
                return b"".join(_body(response, deadline))
    raise CoverError("too_many_redirects", f"more than {settings.COVER_FETCH_MAX_REDIRECTS} redirects")


def _get(session: requests.Session, url: str, deadline: float) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise CoverError("timeout", f"no answer within {settings.COVER_FETCH_TOTAL_TIMEOUT:g} s", transient=True)
    timeout = (min(settings.COVER_FETCH_CONNECT_TIMEOUT, remaining), min(settings.COVER_FETCH_READ_TIMEOUT, remaining))
    try:
        return session.get(url, stream=True, allow_redirects=False, timeout=timeout)
    except requests.Timeout:
        raise CoverError("timeout", f"no answer within {timeout[1]:g} s", transient=True) from None
    except requests.RequestException as error:
        raise CoverError("connection", f"connection failed ({type(error).__name__})", transient=True) from None


def _check_response(response: requests.Response) -> None:
    status = response.status_code
    if status != 200:
        transient = status >= 500 or status in _TRANSIENT_STATUSES
        raise CoverError("http_status", f"HTTP {status}", transient=transient)
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not content_type.startswith("image/"):
        raise CoverError("not_an_image", f"Content-Type {content_type[:80] or 'missing'!r} is not an image")
    declared = response.headers.get("Content-Length", "")
    # isascii(): a "²" passes isdigit() but not int(); such a header is ignored and the body's size counts.
    if declared.isascii() and declared.isdigit() and int(declared) > settings.COVER_FETCH_MAX_BYTES:
        raise CoverError("too_large", f"{int(declared):,} bytes; the limit is {settings.COVER_FETCH_MAX_BYTES:,}")


def _body(response: requests.Response, deadline: float) -> Iterator[bytes]:
    """The body as it arrives, aborted past the byte limit or the deadline (a lying or dribbling host).

    ``read1`` returns what the socket has (``iter_content`` would wait to fill each chunk,
    so a host sending a few bytes a second would be noticed only at the end).
    """
    received = 0
    try:
        while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
            received += len(chunk)
            if received > settings.COVER_FETCH_MAX_BYTES:
                raise CoverError("too_large", f"more than {settings.COVER_FETCH_MAX_BYTES:,} bytes")
            if time.monotonic() > deadline:
                raise CoverError(
                    "timeout", f"not received within {settings.COVER_FETCH_TOTAL_TIMEOUT:g} s", transient=True
                )
            yield chunk
    except (urllib3.exceptions.HTTPError, OSError) as error:
        is_timeout = isinstance(error, urllib3.exceptions.TimeoutError | TimeoutError)
        raise CoverError(
            "timeout" if is_timeout else "connection", f"download broke off ({type(error).__name__})", transient=True
        ) from None


def _open_image(data: bytes) -> Image.Image:
    """Decode ``data`` as a cover: a known format, sane dimensions, intact, upright, RGB."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns up to twice its own pixel limit; here any bomb is an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            if probe.format not in ALLOWED_FORMATS:
                raise CoverError("unsupported_format", f"{probe.format or 'unknown'} images are not accepted")
            width, height = probe.size
            if width * height > settings.COVER_FETCH_MAX_PIXELS:
                raise CoverError(
                    "too_many_pixels",
                    f"{width:,} x {height:,} pixels; the limit is {settings.COVER_FETCH_MAX_PIXELS:,}",
                )
            if min(width, height) < settings.COVER_FETCH_MIN_SIDE:
                raise CoverError("too_small", f"{width} x {height} pixels is a placeholder, not a cover")
            probe.verify()  # checksums and structure; the object is unusable afterwards
            image: Image.Image = Image.open(io.BytesIO(data))
            image.load()
    except CoverError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise CoverError("too_many_pixels", str(error)[:200]) from None
    except UnidentifiedImageError:
        raise CoverError("invalid_image", "not a readable image") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise CoverError("invalid_image", f"a damaged image ({str(error)[:120] or type(error).__name__})") from None
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white, as the cover would look on a page.
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _resized(image: Image.Image, width: int) -> Image.Image:
    if width >= image.width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "webp":
        image.save(buffer, "WEBP", quality=settings.COVER_WEBP_QUALITY, method=4)
    else:
        image.save(buffer, "JPEG", quality=settings.COVER_JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()


def _store(data: bytes, *, isbn13: str, width: int, image_format: str) -> str:
    """Save ``data`` under a name holding its digest (reused when it exists: the same name is the same bytes)."""
    digest = hashlib.sha256(data).hexdigest()[:20]
    extension = "jpg" if image_format == "jpeg" else image_format
    name = f"covers/{isbn13}/{width}w-{digest}.{extension}"
    if default_storage.exists(name):
        return name
    return default_storage.save(name, ContentFile(data))


def _store_renditions(image: Image.Image, *, isbn13: str) -> list[CoverRendition]:
    """WebP copies at each of ``COVER_WIDTHS`` (never enlarged) and a JPEG for Open Graph."""
    wanted = sorted({min(width, image.width) for width in COVER_WIDTHS})
    targets = [(width, "webp") for width in wanted] + [(min(OPEN_GRAPH_WIDTH, image.width), "jpeg")]
    renditions = []
    try:
        for width, image_format in targets:
            resized = _resized(image, width)
            name = _store(_encode(resized, image_format), isbn13=isbn13, width=resized.width, image_format=image_format)
            rendition = CoverRendition(name=name, width=resized.width, height=resized.height, format=image_format)
            renditions.append(rendition)
    except OSError as error:  # the storage (disk, S3) refused: ours to fix, so worth another try
        raise CoverError("storage", f"storing the cover failed ({str(error)[:160]})", transient=True) from None
    return renditions


def _retry_delay(failures: int) -> timedelta:
    seconds = settings.COVER_FETCH_RETRY_BASE_SECONDS * 2 ** min(failures - 1, 30)
    return timedelta(seconds=min(seconds, settings.COVER_FETCH_RETRY_MAX_SECONDS))


def _record_success(book_id: int, source_url: str, renditions: list[CoverRendition]) -> CoverFetchOutcome:
    now = timezone.now()
    with transaction.atomic():
        updated = Book.objects.filter(pk=book_id, cover_url=source_url).update(
            cover_renditions=[rendition.to_json() for rendition in renditions],
            cover_source_url=source_url,
            cover_fetched_at=now,
            cover_fetch_failures=0,
            cover_fetch_error="",
            cover_retry_at=None,
            updated_at=now,  # the pages showing the book changed: Last-Modified must move
        )
        if not updated:
            return _superseded_or_missing(book_id)
        announce_books_changed([book_id])
    logger.info("cover of book %s fetched from %s: %d copies", book_id, source_url, len(renditions))
    return CoverFetchOutcome(book_id, CoverFetchStatus.FETCHED, renditions=tuple(renditions))


def _record_failure(book_id: int, source_url: str, error: CoverError) -> CoverFetchOutcome:
    """Count the failure and schedule the next try; the pages do not change, so nothing is announced."""
    with transaction.atomic():
        # Locked so two concurrent failures count twice and compute the delay from the true count.
        book = Book.objects.select_for_update().filter(pk=book_id).only(*_STATE_FIELDS).first()
        if book is None or book.cover_url != source_url:
            return _superseded_or_missing(book_id)
        same_source = book.cover_source_url == source_url
        failures = book.cover_fetch_failures + 1 if same_source else 1
        gives_up = not error.transient or failures >= settings.COVER_FETCH_MAX_ATTEMPTS
        retry_at = None if gives_up else timezone.now() + _retry_delay(failures)
        changes: dict[str, object] = {
            "cover_source_url": source_url,
            "cover_fetch_failures": min(failures, 32767),
            "cover_fetch_error": f"{error.code}: {error.detail}"[:300],
            "cover_retry_at": retry_at,
        }
        if not same_source:
            # Copies of an earlier cover_url were not shown any more; forget them with it.
            changes |= {"cover_renditions": [], "cover_fetched_at": None}
        Book.objects.filter(pk=book_id).update(**changes)
    logger.warning(
        "cover of book %s from %s failed (%s: %s); %s",
        book_id,
        source_url,
        error.code,
        error.detail,
        f"next try at {retry_at:%Y-%m-%d %H:%M:%S}" if retry_at else "given up",
    )
    return CoverFetchOutcome(book_id, CoverFetchStatus.FAILED, error=error.code, detail=error.detail, retry_at=retry_at)


def _superseded_or_missing(book_id: int) -> CoverFetchOutcome:
    exists = Book.objects.filter(pk=book_id).exists()
    return CoverFetchOutcome(book_id, CoverFetchStatus.SUPERSEDED if exists else CoverFetchStatus.BOOK_MISSING)
