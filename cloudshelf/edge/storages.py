"""Storage backends for static files and media, on S3 or on this machine.

Every file a page links is either named after its bytes (collectstatic's hashed names,
the cover fetcher's digests) or given a name of its own at upload (``UniqueUploadNamesMixin``),
so its URL never shows other bytes and browsers and CloudFront may keep it for a year.
Names that can change bytes (the unhashed copies collectstatic also writes, the manifest)
are kept only ``STATIC_UNHASHED_MAX_AGE`` seconds.

The S3 backends take their bucket, domain and endpoint from settings when they are built
(not from their ``STORAGES`` entry), so switching the AWS settings switches them.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files.storage import FileSystemStorage
from django.utils.crypto import get_random_string
from storages.backends.s3 import S3Storage

from cloudshelf.edge.media import media_cache_control, short_cache_control

_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


class UniqueUploadNamesMixin:
    """Every file uploaded through a ``FileField`` lands in a directory of its own.

    ``covers/dune.jpg`` becomes ``covers/k3j9x2m1q8zd/dune.jpg``: a new upload of a file with
    the same name never reuses a URL a browser or CloudFront may still hold for a year. The
    random part is a directory, not a suffix, so Django's truncation of long names (which
    cuts the end of the file name) can never cut it off. ``storage.save(name)`` called
    directly keeps ``name`` as it is (content-addressed names stay content-addressed).
    """

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        name: str = super().generate_filename(filename)  # type: ignore[misc]
        directory, base = posixpath.split(name.replace("\\", "/"))
        return posixpath.join(directory, get_random_string(12, _TOKEN_ALPHABET), base)


class LocalMediaStorage(UniqueUploadNamesMixin, FileSystemStorage):
    """Media under ``MEDIA_ROOT``, served by ``cloudshelf.edge.media`` (embedded default, ``make up``)."""


def _s3_options(*, bucket: str, location: str) -> dict[str, Any]:
    return {
        "bucket_name": bucket,
        "location": location,
        "region_name": settings.AWS_S3_REGION_NAME,
        "endpoint_url": settings.AWS_ENDPOINT_URL,
        # Links go through CloudFront when there is one; either way they are plain public
        # URLs (no signed query strings, which would change on every render and defeat caching).
        "custom_domain": settings.CLOUDFRONT_DOMAIN or None,
        "querystring_auth": False,
        # Names are unique or content-addressed, so an existing name already holds these
        # bytes: skip the HEAD request a no-overwrite check costs per file.
        "file_overwrite": True,
    }


class S3MediaStorage(UniqueUploadNamesMixin, S3Storage):
    """Uploaded media (covers) in ``AWS_MEDIA_BUCKET_NAME`` under ``media/``."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**(_s3_options(bucket=settings.AWS_MEDIA_BUCKET_NAME, location="media") | options))

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """Cache-Control per object, written with it (S3 then sends it to CloudFront and browsers)."""
        parameters: dict[str, Any] = super().get_object_parameters(name)
        relative = name[len(self.location) + 1 :] if name.startswith(self.location + "/") else name
        parameters.setdefault("CacheControl", media_cache_control(relative))
        return parameters


class S3ManifestStaticStorage(ManifestFilesMixin, S3Storage):
    """collectstatic to ``AWS_STORAGE_BUCKET_NAME`` under ``static/``, with a manifest of hashed names.

    collectstatic first uploads each file under its own name, then (``post_process``) under
    its hashed name, then the manifest. Only the hashed uploads are immutable: the flag set
    around ``post_process`` tells them apart exactly, where a pattern on names could be
    fooled by a source file that happens to look hashed.
    """

    def __init__(self, **options: Any) -> None:
        # Before the parent's __init__, which reads the manifest (and so asks for object parameters).
        self._is_writing_hashed_files = False
        super().__init__(**(_s3_options(bucket=settings.AWS_STORAGE_BUCKET_NAME, location="static") | options))

    def post_process(
        self, paths: dict[str, Any], dry_run: bool = False, **options: Any
    ) -> Iterator[tuple[str, str, bool] | tuple[str, None, RuntimeError]]:
        self._is_writing_hashed_files = True
        try:
            yield from super().post_process(paths, dry_run, **options)
        finally:
            self._is_writing_hashed_files = False

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        parameters: dict[str, Any] = super().get_object_parameters(name)
        is_manifest = name == self._normalize_name(self.manifest_name)
        is_hashed = self._is_writing_hashed_files and not is_manifest
        parameters.setdefault("CacheControl", settings.IMMUTABLE_CACHE_CONTROL if is_hashed else short_cache_control())
        return parameters
