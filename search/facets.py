"""Facet counts → the sidebar's facets, the same for OpenSearch and the database fallback.

Each backend counts (``FacetCounts``); this module decides what shoppers see: which
categories of the tree, which authors, labels, order, and what is selected. Counts of a
facet are taken with every *other* facet's filters applied but not its own, so picking
"Fantasy" still shows how many books the other categories have.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from django.utils.translation import get_language_info

from catalog.selectors.categories import CategoryRow, category_index
from search.params import FACET_LABELS, PRICE_RANGES, PRICE_RANGES_BY_KEY, RATING_THRESHOLDS, SearchFilters
from search.results import Facet, FacetValue

AUTHOR_FACET_SIZE = 10


def category_tree() -> dict[str, CategoryRow]:
    """Every category by path: the catalog's category index, which the catalog clears when one changes."""
    return category_index().by_path


def subtree_ids(path: str) -> list[int]:
    """Ids of the category at ``path`` and of all its descendants."""
    return category_index().subtree_ids(path)


def category_facet_paths(selected: str | None) -> list[str]:
    """The categories the sidebar lists: every root, and the children along the selected trail.

    Depth-first in name order, so children follow their parent: Fiction, · Fantasy,
    · · Epic Fantasy, · Horror, Non-fiction …
    """
    tree = category_tree()
    trail = set()
    path = selected
    while path:
        trail.add(path)
        path = tree[path].parent_path if path in tree else None
    children: dict[str | None, list[CategoryRow]] = {}
    for node in tree.values():
        children.setdefault(node.parent_path, []).append(node)

    ordered: list[str] = []

    def walk(parent: str | None) -> None:
        for node in sorted(children.get(parent, []), key=lambda node: node.name.lower()):
            ordered.append(node.path)
            if node.path in trail:
                walk(node.path)

    walk(None)
    return ordered


@dataclass
class FacetCounts:
    """Raw counts from a backend, keyed like the URL parameters."""

    category: dict[str, int] = field(default_factory=dict)  # category path (any depth) → books in its subtree
    author: list[tuple[str, int]] = field(default_factory=list)  # the biggest first
    price: dict[str, int] = field(default_factory=dict)
    rating: dict[int, int] = field(default_factory=dict)  # threshold → books rated at least that
    in_stock: int = 0
    language: dict[str, int] = field(default_factory=dict)
    decade: dict[int, int] = field(default_factory=dict)
    # Counted on a sample of the best matches and scaled up: estimates, shown as such.
    approximate: bool = False

    def scaled(self, factor: float) -> FacetCounts:
        """These counts times ``factor`` (rounded to two significant figures), marked approximate."""

        def estimate(count: int) -> int:
            return _two_figures(count * factor)

        return FacetCounts(
            category={key: estimate(count) for key, count in self.category.items()},
            author=[(name, estimate(count)) for name, count in self.author],
            price={key: estimate(count) for key, count in self.price.items()},
            rating={key: estimate(count) for key, count in self.rating.items()},
            in_stock=estimate(self.in_stock),
            language={key: estimate(count) for key, count in self.language.items()},
            decade={key: estimate(count) for key, count in self.decade.items()},
            approximate=True,
        )


def _two_figures(value: float) -> int:
    """``12_345.6`` → ``12_000``; ``87.4`` → ``87``; at least 1 for anything counted."""
    if value <= 0:
        return 0
    rounded = round(value, 1 - len(str(int(value))))
    return max(int(rounded), 1)


def _ancestor_paths(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: index + 1]) for index in range(len(parts))]


def language_label(code: str) -> str:
    try:
        return str(get_language_info(code)["name"])
    except KeyError:
        return code.upper()


def build_facets(counts: FacetCounts, filters: SearchFilters) -> list[Facet]:
    """The sidebar: every facet with its values, labels and selection (empty values hidden)."""
    tree = category_tree()

    def value(name: str, key: str, label: str, count: int, depth: int = 0) -> FacetValue:
        return FacetValue(key=key, label=label, count=count, is_selected=filters.is_selected(name, key), depth=depth)

    def keep(values: list[FacetValue]) -> list[FacetValue]:
        return [item for item in values if item.count or item.is_selected]

    trail = set(_ancestor_paths(filters.category)) if filters.category else set()
    categories = [
        value("category", path, tree[path].name, counts.category.get(path, 0), tree[path].depth)
        for path in category_facet_paths(filters.category)
    ]
    # The selected category's trail stays visible even where a count is zero.
    categories = [item for item in categories if item.count or item.key in trail]
    authors = [value("author", name, name, count) for name, count in counts.author[:AUTHOR_FACET_SIZE]]
    listed = {item.key for item in authors}
    authors += [
        value("author", name, name, dict(counts.author).get(name, 0)) for name in filters.authors if name not in listed
    ]
    facets = [
        Facet("category", FACET_LABELS["category"], categories),
        Facet("author", FACET_LABELS["author"], keep(authors)),
        Facet(
            "price",
            FACET_LABELS["price"],
            keep([value("price", r.key, r.label, counts.price.get(r.key, 0)) for r in PRICE_RANGES]),
        ),
        Facet(
            "rating",
            FACET_LABELS["rating"],
            keep([value("rating", str(t), f"{t}★ & up", counts.rating.get(t, 0)) for t in RATING_THRESHOLDS]),
        ),
        Facet("in_stock", FACET_LABELS["in_stock"], keep([value("in_stock", "1", "In stock", counts.in_stock)])),
        Facet(
            "language",
            FACET_LABELS["language"],
            keep(
                [
                    value("language", code, language_label(code), count)
                    for code, count in sorted(counts.language.items(), key=lambda item: (-item[1], item[0]))
                ]
                + [
                    value("language", code, language_label(code), 0)
                    for code in filters.languages
                    if code not in counts.language
                ]
            ),
        ),
        Facet(
            "decade",
            FACET_LABELS["decade"],
            keep(
                [
                    value("decade", str(decade), f"{decade}s", count)
                    for decade, count in sorted(counts.decade.items(), reverse=True)
                ]
                + [value("decade", str(d), f"{d}s", 0) for d in filters.decades if d not in counts.decade]
            ),
        ),
    ]
    return [replace(facet, approximate=counts.approximate) for facet in facets if facet.values]


def filter_label(name: str, value: str) -> str:
    """How an active filter reads in the "remove this filter" list."""
    if name == "category":
        node = category_tree().get(value)
        return node.name if node else value
    if name == "price":
        price_range = PRICE_RANGES_BY_KEY.get(value)
        return price_range.label if price_range else value
    if name == "rating":
        return f"{value}★ & up"
    if name == "in_stock":
        return "In stock"
    if name == "language":
        return language_label(value)
    if name == "decade":
        return f"{value}s"
    return value
