"""The fixed list of features that may be switched off: only these names exist.

Plain Python, no Django imports: ``cloudshelf.settings`` reads each one's
``FEATURE_<NAME>`` environment override from this list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """A non-essential part of a page: shoppers can browse, search and buy without it."""

    name: str
    label: str
    description: str
    # Switched off automatically while the site is overloaded (cloudshelf.features.shedding).
    is_sheddable: bool = True


FEATURES: dict[str, Feature] = {
    feature.name: feature
    for feature in (
        Feature(
            "recommendations",
            "Related books",
            'The "you may also like" row on book pages (a query over the book\'s category and authors).',
        ),
        Feature(
            "review_lists",
            "Review lists",
            "The page of customer reviews on book pages (the star rating and review count stay).",
        ),
        Feature(
            "facet_counts",
            "Search facet counts",
            "The sidebar of facet counts on search results (filters in the URL still apply).",
        ),
    )
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)


class UnknownFeature(ValueError):
    """A name that is not in ``FEATURES``: refused everywhere (code, admin, environment)."""


def feature_named(name: object) -> Feature:
    """The registered feature called ``name``; ``UnknownFeature`` for anything else."""
    feature = FEATURES.get(name) if isinstance(name, str) else None
    if feature is None:
        shown = repr(name)[:60]
        raise UnknownFeature(f"No feature is called {shown}; known: {', '.join(FEATURE_NAMES)}.")
    return feature


def environment_variable(name: str) -> str:
    """``FEATURE_RECOMMENDATIONS`` for ``recommendations``."""
    return f"FEATURE_{name.upper()}"
