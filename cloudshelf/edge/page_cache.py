"""Whole pages rendered once and served to every shopper, with the personal parts filled per visitor.

The one page-cache layer of the site: home, browse, category, author, book and search
results pages go through ``cached_page``. How it works (docs/edge.md has the picture):

* **What is kept** — the page as a visitor without a session sees it, the *shell*:
  rendered with an anonymous user, a placeholder for the CSRF token and the personal
  slots (``cloudshelf.edge.slots``) marked. A visitor without a session cookie gets the
  shell with the token placeholder removed (the same bytes for everyone, so shared HTTP
  caches and CloudFront may keep it too); a visitor with a session gets the shell with
  their token and their slots filled in, ``private, no-store``.
* **Where** — in Redis (the ``pages`` cache, shared by every process, which is what
  makes "rebuilt once" and "stale while Postgres is down" hold across processes) and in
  a small LRU in each process's memory, which answers without any network call for
  ``PAGE_CACHE_RECHECK_SECONDS`` after a copy was last checked.
* **Freshness** — every page records the *tags* of what it shows (``book:42``, each
  card's book, ``listing:category:7``, ``site`` for the navigation) and the change
  sequence number read *before* rendering. ``pages_changed(tags)`` (called on commit by
  the apps' receivers) takes the next sequence number and stamps each tag with it. A
  copy is current while none of its tags carries a stamp newer than the copy: checking
  costs one ``get_many``. A change that lands while a page renders is newer than the
  page's sequence number, so that copy is stale at once.
* **No stampede** — a stale or expired copy is rebuilt by the one request that takes a
  short lock; every other request meanwhile gets the previous bytes (``X-Page-Cache:
  stale``).
* **Stale on failure** — when rebuilding fails (Postgres down, a 5xx), the previous copy
  is served for up to ``PAGE_CACHE_STALE_SECONDS`` past its freshness.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import get_token
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date

from cloudshelf import db_router
from cloudshelf.edge import http as edge_http
from cloudshelf.edge.slots import fill_personal_slots

logger = logging.getLogger(__name__)

PAGES_CACHE_ALIAS = "pages"
# Where a page's CSRF token goes until a visitor is known; letters and underscores only,
# so escaping leaves it as it is. Shared with catalog.cards, whose cached cards hold it too.
CSRF_TOKEN_SLOT = "__CLOUDSHELF_CARD_CSRF_TOKEN__"
# Every page shows the navigation (root categories): a category change retires them all.
SITE_TAG = "site"
# Tags too broad to list the pages that carry them (for CDN invalidation by path).
_UNLISTED_TAGS = (SITE_TAG, "listing:", "search", "feature:")
# Headers of the rendered page that every answer from its kept copy repeats.
REPLAYED_HEADERS = ("X-Search-Backend", "Content-Language")
# PageEntry.extra: how long a briefly kept page is current (keep_briefly).
_FRESH_SECONDS = "fresh_seconds"
# Bump when PageEntry or the way shells are built changes.
FORMAT_VERSION = 1

_GZIP_ACCEPTED = re.compile(r"(?:^|,)\s*(?:gzip|\*)\s*(?:;\s*q\s*=\s*(?!0(?:\.0*)?\s*(?:,|$))[0-9.]+\s*)?(?:,|$)")


@dataclass(frozen=True)
class PageEntry:
    """One kept page. Pickled into the ``pages`` cache, so keep it small and plain."""

    path: str
    shell: bytes  # zlib-compressed UTF-8 (~15 kB): placeholders and slot markers in place
    etag: str  # digest of the shared body (without quotes)
    content_type: str
    rendered_at: float  # epoch seconds
    sequence: int  # change sequence number read before rendering
    tags: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def age(self) -> float:
        return time.time() - self.rendered_at

    def shell_text(self) -> str:
        return zlib.decompress(self.shell).decode()


@dataclass
class PageShell:
    """What the view being rendered into a shell collects: tags, whether to keep it, extras."""

    sequence: int
    tags: set[str] = field(default_factory=lambda: {SITE_TAG})
    keep: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def replica_fence(self) -> int | None:
        """The WAL position a replica must have replayed to render this shell (None: unknown).

        Noted by ``pages_changed`` when change ``sequence`` took its number. Unknown for sequence 0,
        a change still noting it, or a cache outage: the router then asks the primary instead.
        """
        if not self.sequence:
            return None
        try:
            position = caches[_STAMPS_ALIAS].get(_position_key(self.sequence))
        except Exception:  # noqa: BLE001  a cache outage: the primary's position is the safe answer
            return None
        return position if isinstance(position, int) else None


# --- Tags and the change sequence ------------------------------------------------------

_SEQUENCE_KEY = "page-cache:sequence"
# The change sequence, the tags' stamps and the path sets live on the durable Redis: the cache
# Redis evicts under memory pressure, and an evicted stamp would make a retired page look
# current again. Kept pages themselves may be evicted (a miss only costs a render).
_STAMPS_ALIAS = "durable"
# Changes this process made itself: its own copies are rechecked at once, not after a second.
_local_changes = 0


def _tag_key(tag: str) -> str:
    return f"page-cache:tag:{tag}"


def _position_key(sequence: int) -> str:
    # The primary's WAL position noted right after change ``sequence`` took its number.
    return f"page-cache:position:{sequence}"


def _tag_lifetime() -> int:
    # A stamp must outlive every copy it could retire (fresh + stale), with a margin.
    return settings.PAGE_CACHE_SECONDS + settings.PAGE_CACHE_STALE_SECONDS + 60


def current_sequence() -> int:
    """The latest change sequence number (0 before the first change, or when the cache is away)."""
    try:
        return int(caches[_STAMPS_ALIAS].get(_SEQUENCE_KEY) or 0)
    except (TypeError, ValueError):
        return 0


def _next_sequence() -> int:
    caches[_STAMPS_ALIAS].add(_SEQUENCE_KEY, 0, timeout=None)
    try:
        return int(caches[_STAMPS_ALIAS].incr(_SEQUENCE_KEY))
    except ValueError:  # the cache lost the key between add and incr (or is down)
        caches[_STAMPS_ALIAS].set(_SEQUENCE_KEY, 1, timeout=None)
        return 1


def pages_changed(tags: Iterable[str]) -> None:
    """Retire every kept page showing any of ``tags`` (call after the change commits).

    Also asks the CDN and the local HTTP cache to drop the paths known to show them.
    """
    global _local_changes
    tags = sorted({tag for tag in tags if tag})
    if not tags:
        return
    try:
        sequence = _next_sequence()
        stamps: dict[str, int] = {_tag_key(tag): sequence for tag in tags}
        # Asked after the number was taken, so it covers this change and every lower-numbered one
        # (each committed before taking its number): the replica fence of pages rendered later.
        position = db_router.primary_wal_position()
        if position is not None:
            stamps[_position_key(sequence)] = position
        caches[_STAMPS_ALIAS].set_many(stamps, timeout=_tag_lifetime())
    except Exception:  # a cache outage: pages are not being validated either
        logger.warning("page cache: could not record changed tags %s", tags[:10], exc_info=True)
    _local_changes += 1
    _invalidate_paths_showing(tags)


def unchanged_since(tags: Iterable[str], sequence: int) -> bool:
    """Whether none of ``tags`` changed after change number ``sequence`` (one ``get_many``)."""
    stamps = caches[_STAMPS_ALIAS].get_many([_tag_key(tag) for tag in tags])
    return all(int(stamp) <= sequence for stamp in stamps.values())


def _fresh_seconds(entry: PageEntry) -> float:
    """How long ``entry`` may be served as current: ``PAGE_CACHE_SECONDS``, or less (``keep_briefly``)."""
    return min(settings.PAGE_CACHE_SECONDS, float(entry.extra.get(_FRESH_SECONDS, settings.PAGE_CACHE_SECONDS)))


def _is_current(entry: PageEntry) -> bool:
    return entry.age < _fresh_seconds(entry) and unchanged_since(entry.tags, entry.sequence)


# --- Which paths show a tag (for purges at the CDN and the local HTTP cache) -----------


def _lists_paths(tag: str) -> bool:
    return not tag.startswith(_UNLISTED_TAGS)


def _paths_key(tag: str) -> str:
    return caches[_STAMPS_ALIAS].make_key(f"page-cache:paths:{tag}")


def _raw_redis() -> Any:
    """The stamps alias's Redis client (call only when ``REDIS_URL`` is set)."""
    from django_redis import get_redis_connection

    return get_redis_connection(_STAMPS_ALIAS)


def _record_paths(entry: PageEntry) -> None:
    tags = [tag for tag in entry.tags if _lists_paths(tag)]
    if not settings.REDIS_URL or not tags:
        return
    lifetime = max(_tag_lifetime(), settings.PAGE_CACHE_SHARED_MAX_AGE + settings.PAGE_CACHE_STALE_IF_ERROR)
    try:
        # Inside the try: a Redis Cluster client reads the slot map as it is made, and can fail there.
        redis = _raw_redis()
        with redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.sadd(_paths_key(tag), entry.path)
                pipe.expire(_paths_key(tag), lifetime)
            pipe.execute()
    except Exception:
        logger.warning("page cache: could not record the paths of %s", entry.path, exc_info=True)


def paths_showing(tags: Iterable[str]) -> list[str]:
    """Paths of pages rendered lately that show any of ``tags`` (``book:42``), at most PAGE_CACHE_MAX_PURGE_PATHS."""
    keys = [_paths_key(tag) for tag in tags if _lists_paths(tag)]
    if not settings.REDIS_URL or not keys:
        return []
    try:
        redis = _raw_redis()
        # One SMEMBERS per tag in one pipeline rather than SUNION: the tags' sets are in different
        # Redis Cluster slots, which SUNION refuses; on one node it is the same single round trip.
        with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.smembers(key)
            members = set().union(*pipe.execute())
    except Exception:
        logger.warning("page cache: could not read the paths of %s", keys[:10], exc_info=True)
        return []
    paths = sorted(member.decode() if isinstance(member, bytes) else str(member) for member in members)
    return paths[: settings.PAGE_CACHE_MAX_PURGE_PATHS]


def _invalidate_paths_showing(tags: list[str]) -> None:
    paths = paths_showing(tags)
    if not paths:
        return
    try:
        from cloudshelf.edge.cdn import invalidate_paths
    except ImportError:  # pragma: no cover - the CDN module ships with the edge package
        return
    try:
        invalidate_paths(paths)
    except Exception:  # the page cache is already fresh; the edge catches up at its TTL
        logger.warning("page cache: could not queue CDN invalidation of %d paths", len(paths), exc_info=True)


# --- This process's copies --------------------------------------------------------------


@dataclass
class _LocalCopy:
    entry: PageEntry
    checked_at: float  # time.monotonic() of the last check against the tags
    checked_changes: int  # _local_changes at that check
    size: int
    # What a visitor without a session gets, made on first use in this process: behind nginx
    # (which asks for identity and compresses itself) the gzip copy is never made at all.
    shared_body: bytes | None = None
    shared_gzip: bytes | None = None

    def shared_identity(self) -> bytes:
        if self.shared_body is None:
            self.shared_body = self.entry.shell_text().replace(CSRF_TOKEN_SLOT, "").encode()
        return self.shared_body

    def shared_gzipped(self) -> bytes:
        if self.shared_gzip is None:
            self.shared_gzip = gzip.compress(self.shared_identity(), compresslevel=6, mtime=0)
        return self.shared_gzip


class _LocalPages:
    """An LRU of page copies bounded by bytes, for this process only."""

    def __init__(self) -> None:
        self._copies: OrderedDict[str, _LocalCopy] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> _LocalCopy | None:
        with self._lock:
            copy = self._copies.get(key)
            if copy is not None:
                self._copies.move_to_end(key)
            return copy

    def put(
        self, key: str, entry: PageEntry, *, checked_at: float | None = None, changes: int | None = None
    ) -> _LocalCopy:
        """Keep ``entry``, checked now (or at ``checked_at``, when ``changes`` local changes had been made)."""
        copy = _LocalCopy(
            entry,
            time.monotonic() if checked_at is None else checked_at,
            _local_changes if changes is None else changes,
            len(entry.shell) * 6,  # the compressed shell, and the shared bodies made from it
        )
        with self._lock:
            old = self._copies.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._copies[key] = copy
            self._bytes += copy.size
            while self._bytes > settings.PAGE_CACHE_LOCAL_MAX_BYTES and len(self._copies) > 1:
                _, evicted = self._copies.popitem(last=False)
                self._bytes -= evicted.size
        return copy

    def clear(self) -> None:
        with self._lock:
            self._copies.clear()
            self._bytes = 0


local_pages = _LocalPages()


def _is_trusted(copy: _LocalCopy) -> bool:
    return (
        copy.checked_changes == _local_changes
        and time.monotonic() - copy.checked_at < settings.PAGE_CACHE_RECHECK_SECONDS
        and copy.entry.age < _fresh_seconds(copy.entry)
    )


def _find(key: str) -> tuple[_LocalCopy | None, bool]:
    """The best copy of page ``key`` and whether it is current."""
    local = local_pages.get(key)
    if local is not None and _is_trusted(local):
        return local, True
    if local is not None and _is_current(local.entry):
        return local_pages.put(key, local.entry), True
    shared: PageEntry | None = caches[PAGES_CACHE_ALIAS].get(key)
    if shared is not None and (local is None or shared.rendered_at > local.entry.rendered_at):
        if _is_current(shared):
            return local_pages.put(key, shared), True
        # The newest copy there is, untrusted: what a failed or locked rebuild serves.
        local = _LocalCopy(shared, 0.0, -1, 0)
    return local, False


# --- Keys, release ----------------------------------------------------------------------


@cache
def release_digest() -> str:
    """A digest of the code, templates and static manifest this process runs (once per process).

    Part of every key, so a deploy never serves pages rendered by the previous release
    (whose markup or hashed static file names may be gone).
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{FORMAT_VERSION}:{settings.SITE_URL}:{settings.STATIC_URL}:{settings.MEDIA_URL}".encode())
    base = Path(settings.BASE_DIR)
    for folder in ("catalog", "cart", "search", "analytics", "cloudshelf", "templates"):
        for path in sorted((base / folder).rglob("*")):
            if path.suffix in {".py", ".html", ".svg", ".txt"} and "migrations" not in path.parts:
                digest.update(path.relative_to(base).as_posix().encode())
                digest.update(path.read_bytes())
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()


def _page_key(request: HttpRequest, extra: str) -> str:
    described = f"{release_digest()}\n{request.get_host()}\n{request.get_full_path()}\n{extra}"
    return "page:" + hashlib.blake2b(described.encode(), digest_size=16).hexdigest()


def is_personal(request: HttpRequest) -> bool:
    """Whether ``request`` needs its own version of a page (a session or pending messages)."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES or CookieStorage.cookie_name in request.COOKIES


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(_GZIP_ACCEPTED.search(request.headers.get("Accept-Encoding", "").lower()))


# --- Rendering and serving --------------------------------------------------------------


def page_shell(request: HttpRequest) -> PageShell | None:
    """The shell being rendered for ``request``, or None when the page is not being kept."""
    return getattr(request, "page_shell", None)


def page_csrf_token(request: HttpRequest) -> str:
    """The CSRF token a view writes into its page: the placeholder in a shell, else this visitor's."""
    return CSRF_TOKEN_SLOT if page_shell(request) is not None else get_token(request)


def page_depends_on(request: HttpRequest, *tags: str) -> None:
    """Record that the page being rendered shows what ``tags`` name (no-op outside the page cache)."""
    shell = page_shell(request)
    if shell is not None:
        shell.tags.update(tags)


def keep_briefly(request: HttpRequest, seconds: int) -> None:
    """Keep this rendering as current for ``seconds`` at most, here and in shared HTTP caches.

    For a page that is right only for now (rendered while load shedding hides parts of it).
    """
    shell = page_shell(request)
    if shell is not None:
        shell.extra[_FRESH_SECONDS] = min(seconds, shell.extra.get(_FRESH_SECONDS, seconds))


def do_not_keep(request: HttpRequest) -> None:
    """This rendering must not be kept (say, a search answered by the database fallback)."""
    shell = page_shell(request)
    if shell is not None:
        shell.keep = False


def shell_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: while a shell renders, everything personal is anonymous or a placeholder."""
    if page_shell(request) is None:
        return {}
    return {
        "page_shell": True,
        "csrf_token": CSRF_TOKEN_SLOT,
        "user": AnonymousUser(),
        "messages": (),
        "cart_count": None,
    }


def _entry_from(request: HttpRequest, response: HttpResponse, shell: PageShell) -> tuple[PageEntry, bytes]:
    """The page to keep, and what a visitor without a session gets of it."""
    html = response.content.decode(response.charset)
    shared = html.replace(CSRF_TOKEN_SLOT, "").encode()
    entry = PageEntry(
        path=request.get_full_path(),
        shell=zlib.compress(html.encode(), 1),
        etag=hashlib.blake2b(shared, digest_size=12).hexdigest(),
        content_type=response["Content-Type"],
        rendered_at=time.time(),
        sequence=shell.sequence,
        tags=tuple(sorted(shell.tags)),
        extra=shell.extra | {"headers": {name: response[name] for name in REPLAYED_HEADERS if name in response}},
    )
    return entry, shared


def _respond(request: HttpRequest, copy: _LocalCopy, state: str, *, private: bool = False) -> HttpResponseBase:
    entry = copy.entry
    response: HttpResponseBase
    if private or is_personal(request):
        html = entry.shell_text().replace(CSRF_TOKEN_SLOT, get_token(request))
        response = HttpResponse(fill_personal_slots(request, html), content_type=entry.content_type)
        edge_http.mark_private(response)
    else:
        response = _shared_response(request, copy)
    for name, value in entry.extra.get("headers", {}).items():
        response[name] = value
    response["X-Page-Cache"] = state
    if state == "stale":
        response["Warning"] = '110 - "Response is Stale"'
    return response


def _shared_response(request: HttpRequest, copy: _LocalCopy) -> HttpResponseBase:
    entry = copy.entry
    gzipped = _accepts_gzip(request)
    etag = f'"{entry.etag}-gz"' if gzipped else f'"{entry.etag}"'
    last_modified = int(entry.rendered_at)
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if conditional is None and gzipped and f'"{entry.etag}"' in request.headers.get("If-None-Match", ""):
        conditional = get_conditional_response(request, etag=f'"{entry.etag}"', last_modified=last_modified)
    if conditional is not None:
        response: HttpResponseBase = conditional
    elif gzipped:
        response = HttpResponse(copy.shared_gzipped(), content_type=entry.content_type)
        response["Content-Encoding"] = "gzip"
    else:
        response = HttpResponse(copy.shared_identity(), content_type=entry.content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    patch_vary_headers(response, ("Accept-Encoding",))
    edge_http.mark_shared(response, shared_max_age=entry.extra.get(_FRESH_SECONDS))
    return response


def _take_rebuild_lock(key: str) -> bool:
    try:
        return bool(default_cache.add(f"page-cache:rebuilding:{key}", 1, timeout=settings.PAGE_CACHE_REBUILD_SECONDS))
    except Exception:  # no lock service: rebuild rather than serve stale forever
        logger.warning("page cache: no rebuild lock for %s; rebuilding anyway", key, exc_info=True)
        return True


def _release_rebuild_lock(key: str) -> None:
    try:
        default_cache.delete(f"page-cache:rebuilding:{key}")
    except Exception:
        logger.debug("page cache: could not release the rebuild lock of %s", key, exc_info=True)


def _can_serve_stale(copy: _LocalCopy | None) -> bool:
    return copy is not None and copy.entry.age < settings.PAGE_CACHE_SECONDS + settings.PAGE_CACHE_STALE_SECONDS


# Exceptions that are the answer (Django turns them into 404, 403, 400), not a failure to
# answer: a kept copy of a page that is now gone must not be served in its place.
_ANSWERS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)

# ``on_hit(request, entry, started)``: ``started`` is ``time.perf_counter()`` when the page
# cache first saw the request, for latency figures.
OnHit = Callable[[HttpRequest, PageEntry, float], None]
KeyExtra = Callable[[HttpRequest], str]
View = Callable[..., HttpResponseBase]


def cached_page(
    *, on_hit: OnHit | None = None, key_extra: KeyExtra | None = None, private: bool = False
) -> Callable[[View], View]:
    """Serve the decorated GET view from the page cache (see the module docstring).

    ``on_hit(request, entry, started)`` runs for every answer given from a kept copy (search
    uses it to count kept searches for analytics); ``key_extra(request)`` adds to the key
    what the URL alone does not say. ``private``: every answer is made for its visitor
    and marked ``private, no-store``, even without a session (the cart page, whose key
    says which lines it shows).
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            started = time.perf_counter()
            if not settings.PAGE_CACHE_SECONDS or request.method not in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            key = _page_key(request, key_extra(request) if key_extra else "")
            copy, is_current = _find(key)
            if copy is not None and is_current:
                return _answer_from_copy(request, copy, "hit", on_hit, private, started)
            # One request rebuilds while the others get the previous bytes. A private page
            # (one visitor's lines) has no crowd to protect from a stampede.
            is_locked = False
            if copy is not None and not private and _can_serve_stale(copy):
                if not _take_rebuild_lock(key):
                    return _answer_from_copy(request, copy, "stale", on_hit, private, started)
                is_locked = True
            try:
                response = _render(view, request, key, args, kwargs, private)
            except _ANSWERS:
                raise  # not a failure: the page is gone, or the request is refused
            except Exception:
                if not _can_serve_stale(copy):
                    raise
                logger.warning("page cache: rebuilding %s failed; serving the kept copy", request.path, exc_info=True)
                assert copy is not None
                return _answer_from_copy(request, copy, "stale", on_hit, private, started)
            finally:
                if is_locked:
                    _release_rebuild_lock(key)
            if response.status_code >= 500 and _can_serve_stale(copy):
                assert copy is not None
                return _answer_from_copy(request, copy, "stale", on_hit, private, started)
            return response

        return wrapper

    return decorator


def _answer_from_copy(
    request: HttpRequest, copy: _LocalCopy, state: str, on_hit: OnHit | None, private: bool, started: float
) -> HttpResponseBase:
    if on_hit is not None:
        on_hit(request, copy.entry, started)
    return _respond(request, copy, state, private=private)


def _render(
    view: Callable[..., HttpResponseBase], request: HttpRequest, key: str, args: Any, kwargs: Any, private: bool
) -> HttpResponseBase:
    # Read before rendering: a change that lands meanwhile leaves this copy stale.
    started, changes = time.monotonic(), _local_changes
    shell = PageShell(sequence=current_sequence())
    request.page_shell = shell  # type: ignore[attr-defined]
    try:
        response = view(request, *args, **kwargs)
    finally:
        del request.page_shell  # type: ignore[attr-defined]
    if not isinstance(response, HttpResponse) or response.streaming:
        return response
    if response.status_code != 200 or not shell.keep or "text/html" not in response.get("Content-Type", ""):
        # Not kept, but it was rendered as a shell: give this visitor their version.
        if "text/html" in response.get("Content-Type", ""):
            personal = private or is_personal(request)
            html = response.content.decode(response.charset)
            html = html.replace(CSRF_TOKEN_SLOT, get_token(request) if personal else "")
            response.content = fill_personal_slots(request, html) if personal else html
        return response
    entry, shared_body = _entry_from(request, response, shell)
    try:
        caches[PAGES_CACHE_ALIAS].set(key, entry, settings.PAGE_CACHE_SECONDS + settings.PAGE_CACHE_STALE_SECONDS)
    except Exception:
        logger.warning("page cache: could not keep %s", entry.path, exc_info=True)
    if not private:  # a private page is never kept at the edge: nothing there to purge
        _record_paths(entry)
    copy = local_pages.put(key, entry, checked_at=started, changes=changes)
    copy.shared_body = shared_body
    return _respond(request, copy, "miss", private=private)
