"""The category index: every read of the category tree, cached in one place and cleared in one place.

Categories change rarely (an editor in the admin) and are read on every request: the
navigation, breadcrumbs, a category page, every filtered API list and search page. So
they are cached, and the catalog clears every cached form of them when a category is
saved or deleted (``category_index_clear``, called by ``catalog.page_tags``), so nobody
else keeps a copy with its own rules:

* ``category_index``: every category as plain rows, by id and by path (the API's filters
  and tree, search's facets), in the shared cache and for a few seconds in each process;
* ``root_categories``, ``category_trail``, ``category_branch``: what a page shows around
  a category, each cached under its own key.

Cached values are categories only (ids, names, paths; a branch holds its ``Category``),
never books, prices or stock. They are read from the primary, not the read replica: a
replica lagging behind a change would fill the cache the change just cleared with the old tree.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from catalog.models import Category
from catalog.selectors.caching import CACHE_PREFIX, CACHE_SECONDS, cached, computed_on_primary

CATEGORY_ROWS_CACHE_KEY = f"{CACHE_PREFIX}:category-rows"
ROOT_CATEGORIES_CACHE_KEY = f"{CACHE_PREFIX}:root-categories"
# Each process also keeps the index this long: every filtered list and results page
# consults it, and unpickling ~100 rows from the cache on each request cost more than
# the rest of the filter. Another process sees a change after at most this long.
CATEGORY_INDEX_MEMO_SECONDS = 5.0


@dataclass(frozen=True)
class CategoryLink:
    """What a link to a category needs; small and safe to cache."""

    id: int
    name: str
    path: str


@dataclass(frozen=True)
class CategoryRow:
    """One category as stored: plain values (the index holds every category)."""

    id: int
    name: str
    slug: str
    path: str
    depth: int
    parent_id: int | None

    @property
    def parent_path(self) -> str | None:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else None

    @property
    def link(self) -> CategoryLink:
        return CategoryLink(id=self.id, name=self.name, path=self.path)


class CategoryIndex:
    """Every category, root first by path, with lookups by id and by path (built once per memo)."""

    def __init__(self, rows: list[CategoryRow]) -> None:
        self.rows = rows
        self.by_id = {row.id: row for row in rows}
        self.by_path = {row.path: row for row in rows}
        self.links_by_id = {row.id: row.link for row in rows}

    def subtree_ids(self, path: str) -> list[int]:
        """Ids of the category at ``path`` and of all its descendants (empty for an unknown path)."""
        return [row.id for row in self.rows if row.path == path or row.path.startswith(f"{path}/")]


_index_memo: tuple[float, CategoryIndex] | None = None


def category_index() -> CategoryIndex:
    """Every category: process memo (5 s), then the shared cache (``CACHE_SECONDS``), then one query."""
    global _index_memo
    memo, now = _index_memo, time.monotonic()
    if memo is not None and memo[0] > now:
        return memo[1]
    rows: list[CategoryRow] | None = cache.get(CATEGORY_ROWS_CACHE_KEY)
    if rows is None:
        rows = computed_on_primary(
            lambda: [
                CategoryRow(*values)
                for values in Category.objects.order_by("path").values_list(
                    "id", "name", "slug", "path", "depth", "parent_id"
                )
            ]
        )
        cache.set(CATEGORY_ROWS_CACHE_KEY, rows, CACHE_SECONDS)
    index = CategoryIndex(rows)
    _index_memo = (now + CATEGORY_INDEX_MEMO_SECONDS, index)
    return index


def category_index_clear() -> None:
    """Forget every cached form of the tree: call when a category is saved or deleted.

    Clears this process's memo, the rows and the navigation at once. Trails and branches
    are cached per path, so they are deleted by pattern where the cache can (Redis); without
    it (the embedded default's in-process cache) they follow within ``CACHE_SECONDS``.
    """
    global _index_memo
    _index_memo = None
    cache.delete_many([CATEGORY_ROWS_CACHE_KEY, ROOT_CATEGORIES_CACHE_KEY])
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:
        delete_pattern(f"{CACHE_PREFIX}:category-*")


def category_subtree_ids(category_id: int) -> list[int] | None:
    """The category and all its descendants, or ``None`` when there is no such category."""
    index = category_index()
    root = index.by_id.get(category_id)
    return None if root is None else index.subtree_ids(root.path)


def category_tree() -> list[dict[str, Any]]:
    """The category tree as nested dicts, siblings by name."""
    rows = category_index().rows
    nodes: dict[int, dict[str, Any]] = {
        row.id: {"id": row.id, "name": row.name, "slug": row.slug, "path": row.path, "depth": row.depth, "children": []}
        for row in rows
    }
    roots: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda row: (row.name.lower(), row.id)):
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[row.id])
    return roots


# --- Around a category page ---------------------------------------------------------


@dataclass(frozen=True)
class CategoryBranch:
    """A category with what its page shows around it.

    ``trail`` runs from the root down to the category itself (the breadcrumbs);
    ``subtree_ids`` are the category and all its descendants, whose books it lists.
    """

    category: Category
    trail: tuple[CategoryLink, ...]
    children: tuple[CategoryLink, ...]
    subtree_ids: tuple[int, ...]

    @property
    def ancestors(self) -> tuple[CategoryLink, ...]:
        return self.trail[:-1]

    @property
    def book_count_cache_key(self) -> str:
        return f"{CACHE_PREFIX}:book-count:category:{self.category.pk}"


def _link(category: Category) -> CategoryLink:
    return CategoryLink(id=category.pk, name=category.name, path=category.path)


def _path_cache_key(prefix: str, path: str) -> str:
    # A URL path may hold any character and be long; cache keys must not.
    return f"{prefix}:{hashlib.sha256(path.encode()).hexdigest()[:32]}"


def _path_prefixes(path: str) -> list[str]:
    """``a/b/c`` → ``[a, a/b, a/b/c]``: the paths of every ancestor and of the category itself."""
    parts = path.split("/")
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def root_categories() -> list[CategoryLink]:
    """The top-level categories, for the site navigation (cached: it is on every page)."""

    def compute() -> list[CategoryLink]:
        return [_link(category) for category in Category.objects.filter(depth=0).order_by("name")]

    return cached(ROOT_CATEGORIES_CACHE_KEY, lambda: computed_on_primary(compute))


def category_trail(path: str) -> tuple[CategoryLink, ...]:
    """Breadcrumbs of the category at ``path``: root first, the category itself last.

    Every ancestor's path is a prefix of ``path``, so this is one indexed query, not a
    walk up the tree.
    """

    def compute() -> tuple[CategoryLink, ...]:
        return tuple(_link(c) for c in Category.objects.filter(path__in=_path_prefixes(path)).order_by("depth"))

    return cached(_path_cache_key(f"{CACHE_PREFIX}:category-trail", path), lambda: computed_on_primary(compute))


def category_branch(path: str) -> CategoryBranch | None:
    """The category at ``path`` with its breadcrumbs, children and descendants (cached).

    ``None`` when no category has that path. Two queries when not cached: the trail
    (which includes the category row itself) and the descendants.
    """
    key = _path_cache_key(f"{CACHE_PREFIX}:category-branch", path)
    branch: CategoryBranch | None = cache.get(key)
    if branch is not None:
        return branch
    branch = computed_on_primary(lambda: _branch(path))
    if branch is not None:
        cache.set(key, branch, CACHE_SECONDS)
    return branch


def _branch(path: str) -> CategoryBranch | None:
    """``category_branch`` read from the database."""
    trail = list(Category.objects.filter(path__in=_path_prefixes(path)).order_by("depth"))
    if not trail or trail[-1].path != path:
        return None
    category = trail[-1]
    descendants = list(
        Category.objects.filter(path__startswith=f"{path}/").order_by("name").values_list("id", "name", "path", "depth")
    )
    return CategoryBranch(
        category=category,
        trail=tuple(_link(c) for c in trail),
        children=tuple(
            CategoryLink(id=id_, name=name, path=path_)
            for id_, name, path_, depth in descendants
            if depth == category.depth + 1
        ),
        subtree_ids=(category.pk, *(row[0] for row in descendants)),
    )
