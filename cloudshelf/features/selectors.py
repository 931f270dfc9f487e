"""Reads: each feature's effective state and the reason for it."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from cloudshelf.features.registry import FEATURES, Feature, feature_named
from cloudshelf.features.shared import shared_state
from cloudshelf.features.shedding import monitor

# Why a feature is in its state, as the admin shows it.
ENVIRONMENT, ADMIN, SHEDDING, DEFAULT = "environment", "admin", "shedding", "default"


@dataclass(frozen=True)
class FeatureState:
    """A feature's effective state now and which source decided it."""

    feature: Feature
    is_enabled: bool
    source: str  # ENVIRONMENT, ADMIN, SHEDDING or DEFAULT

    @property
    def is_locked(self) -> bool:
        """Forced by ``FEATURE_<NAME>`` in the environment: the admin's flag is not consulted."""
        return self.source == ENVIRONMENT


def feature_state(name: str) -> FeatureState:
    """The state of feature ``name``, deciding in order: environment, admin "off", shedding, admin "on".

    An environment override wins over everything (``FEATURE_FACET_COUNTS=1`` also keeps a
    feature on while shedding). An admin's "off" is reported as such even while shedding.
    No database query: the admin's flags are read from the published copy in Redis.
    Raises ``UnknownFeature`` for a name not in the registry.
    """
    feature = feature_named(name)
    forced = settings.FEATURE_OVERRIDES.get(feature.name)
    if forced is not None:
        return FeatureState(feature, forced, ENVIRONMENT)
    flagged = shared_state.current().flags.get(feature.name)
    if flagged is False:
        return FeatureState(feature, False, ADMIN)
    if feature.is_sheddable and monitor.is_shedding():
        return FeatureState(feature, False, SHEDDING)
    return FeatureState(feature, True, DEFAULT if flagged is None else ADMIN)


def feature_states() -> list[FeatureState]:
    """Every registered feature's state, in registry order (the admin list and ``/health/ready``)."""
    return [feature_state(name) for name in FEATURES]
