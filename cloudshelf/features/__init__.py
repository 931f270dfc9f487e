"""Feature flags and load shedding (docs/resilience.md, "Feature flags and load shedding").

``is_enabled(name)`` is the one question every page asks about a non-essential feature;
``shedding_active()`` says whether the site is shedding load right now. Both are cheap:
at most one Redis round trip per process per second, none for most requests.
"""

from __future__ import annotations

from cloudshelf.features.registry import FEATURE_NAMES, FEATURES, UnknownFeature


def is_enabled(name: str) -> bool:
    """Whether feature ``name`` is shown now (environment, then admin flag, then load shedding).

    Raises ``UnknownFeature`` for a name not in ``registry.FEATURES``.
    """
    from cloudshelf.features.selectors import feature_state

    return feature_state(name).is_enabled


def shedding_active() -> bool:
    """Whether non-essential features are switched off because the site is overloaded."""
    from cloudshelf.features.shedding import monitor

    return monitor.is_shedding()


__all__ = ["FEATURES", "FEATURE_NAMES", "UnknownFeature", "is_enabled", "shedding_active"]
