"""The lifetime and key prefix of the catalog's cached reads, shared by its selector modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from django.core.cache import cache

# How long cached page parts live. Short enough that a new book shows up within minutes
# without any invalidation code; long enough to absorb traffic peaks. (Categories are
# also cleared when one is saved: ``catalog.selectors.categories``.)
CACHE_SECONDS = 5 * 60
# Cached values are pickled dataclasses: bump the version whenever their shape (or the
# module a class lives in) changes, so a deploy never unpickles a shape of the previous release.
CACHE_PREFIX = "catalog:v2"

T = TypeVar("T")


def cached(key: str, compute: Callable[[], T]) -> T:
    """``cache.get_or_set`` with the catalog's lifetime, typed."""
    return cast(T, cache.get_or_set(key, compute, CACHE_SECONDS))
