"""The lifetime and key prefix of the catalog's cached reads, shared by its selector modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, cast

from django.core.cache import cache

from cloudshelf.db_router import reads_from_primary

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


def computed_on_primary(compute: Callable[[], T]) -> T:
    """``compute()`` reading the primary, for a value that is cleared when what it shows changes:
    filled from a read replica lagging behind that change, it would undo the clear and keep the
    old value for its whole lifetime (``cloudshelf.db_router``). Values that only expire can
    come from the replica: its lag is small beside their lifetime."""
    with reads_from_primary():
        return compute()
