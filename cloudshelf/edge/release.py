"""What code draws a kept piece of HTML: part of its cache key, so a deploy never serves markup of another release."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from pathlib import Path


def source_digest(module_names: Iterable[str], *values: object) -> str:
    """A digest of the source of the (imported) modules ``module_names`` and of ``values``.

    ``values`` are the settings the drawing reads (say ``SITE_URL``). Callers compute it
    once per process.
    """
    digest = hashlib.blake2b(digest_size=8)
    digest.update(repr(values).encode())
    for name in sorted(set(module_names)):
        digest.update(Path(sys.modules[name].__file__ or "").read_bytes())
    return digest.hexdigest()
