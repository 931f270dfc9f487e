"""Who may see what analytics measures: the staff reports and ``/metrics`` share one rule."""

from __future__ import annotations

from typing import Any

PERMISSION = "analytics.view_reports"


def can_view_reports(user: Any) -> bool:
    """Active staff with the reports permission (superusers have every permission)."""
    return bool(user.is_active and user.is_staff and user.has_perm(PERMISSION))
