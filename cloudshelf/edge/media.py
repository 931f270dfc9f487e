"""Uploaded media served from ``MEDIA_ROOT`` when it is not on S3 (embedded default, ``make up``).

Django's ``static()`` helper serves media only with ``DEBUG`` on, so before this view a cover
uploaded in the admin answered 404 everywhere that matters. This view works with ``DEBUG``
off and is safe to expose: the requested name must resolve, after following symlinks, to a
regular file inside ``MEDIA_ROOT``; anything else (``../``, absolute paths, NUL bytes,
hidden files, directories, symlinks that lead out) is a 404 that says nothing about the disk.
Files stream (``FileResponse``) with the same caching headers S3 gives them.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, re_path
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.views.decorators.http import require_safe

# Media under these prefixes is never rewritten under the same name: uploads get a fresh
# name (cloudshelf.edge.storages), fetched covers are named after their bytes (catalog.cover_fetch).
IMMUTABLE_MEDIA_PREFIXES = ("covers/",)
# Longer names are refused before touching the disk (Linux's PATH_MAX is 4,096).
MAX_NAME_LENGTH = 1024


def short_cache_control() -> str:
    """Cache-Control of a file whose name may later show other bytes."""
    return f"public, max-age={settings.STATIC_UNHASHED_MAX_AGE}"


def media_cache_control(name: str) -> str:
    """Cache-Control of the media file ``name`` (relative to the media root), here or on S3."""
    if name.startswith(IMMUTABLE_MEDIA_PREFIXES):
        return settings.IMMUTABLE_CACHE_CONTROL
    return short_cache_control()


def _resolve(name: str) -> tuple[Path, os.stat_result]:
    """The file inside ``MEDIA_ROOT`` that ``name`` names, and its stat; ``Http404`` otherwise."""
    parts = name.split("/")
    if (
        not name
        or len(name) > MAX_NAME_LENGTH
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        raise Http404("No such media file")
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        path = (root / name).resolve(strict=True)
        file_stat = path.stat()
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a name the OS refuses
        raise Http404("No such media file") from None
    if not path.is_relative_to(root) or not stat.S_ISREG(file_stat.st_mode):
        raise Http404("No such media file")
    return path, file_stat


@require_safe
def serve_media(request: HttpRequest, name: str) -> HttpResponseBase:
    """Stream one media file with its type, validators and caching headers (GET and HEAD).

    ETag and Last-Modified come from the file's size and modification time (as nginx makes
    them), so a revalidation costs one ``stat`` and answers 304 without opening the file.
    """
    if not _is_media_local():  # on S3: CloudFront or the bucket serves it, never this origin
        raise Http404("Media is not served here")
    path, file_stat = _resolve(name)
    etag = f'"{file_stat.st_mtime_ns:x}-{file_stat.st_size:x}"'
    last_modified = int(file_stat.st_mtime)
    content_type, encoding = mimetypes.guess_type(path.name)
    if encoding:  # dune.svg.gz is a gzip file, not an SVG the browser should render
        content_type = "application/octet-stream"
    headers = {
        "ETag": etag,
        "Last-Modified": http_date(last_modified),
        "Cache-Control": media_cache_control(name),
    }
    # A 304 (or 412) carrying the same validators and caching headers; else this same probe.
    probe = HttpResponse(headers=headers)
    conditional = get_conditional_response(request, etag=etag, last_modified=last_modified, response=probe)
    if conditional is not None and conditional is not probe:
        return conditional
    content_type = content_type or "application/octet-stream"
    if request.method == "HEAD":
        return HttpResponse(content_type=content_type, headers=headers | {"Content-Length": str(file_stat.st_size)})
    return FileResponse(path.open("rb"), content_type=content_type, headers=headers)


def _is_media_local() -> bool:
    """Media is served here unless ``MEDIA_URL`` names another host (S3, CloudFront)."""
    return not urlsplit(settings.MEDIA_URL).netloc


def media_urlpatterns() -> list[URLPattern]:
    """The URL of ``serve_media``: the path of ``MEDIA_URL`` (``/media/``).

    Mounted whatever ``MEDIA_URL`` says when the URLconf loads; whether media is local is
    decided per request (``serve_media`` answers 404 when ``MEDIA_URL`` names another host),
    so the answer follows the settings rather than the moment the URLconf was first read.
    """
    prefix = urlsplit(settings.MEDIA_URL).path.lstrip("/")
    if not prefix:  # MEDIA_URL "/" would swallow every page
        return []
    return [re_path(rf"^{re.escape(prefix)}(?P<name>.*)$", serve_media, name="media")]
