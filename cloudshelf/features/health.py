"""The ``shedding`` readiness check: degraded (never down) while non-essential features are shed."""

from __future__ import annotations

from cloudshelf.features.selectors import feature_states
from cloudshelf.features.shedding import monitor


def probe_shedding() -> dict[str, object]:
    """Which features are off and why; raises (degraded) while load is being shed."""
    states = feature_states()
    off = {state.feature.name: state.source for state in states if not state.is_enabled}
    if monitor.is_shedding():
        shed = sorted(name for name, source in off.items() if source == "shedding")
        raise RuntimeError(f"overloaded: shedding {', '.join(shed) or 'nothing (every feature forced)'}")
    return {"active": False, "in_flight": monitor.in_flight, "features_off": off}
