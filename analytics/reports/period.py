"""The period every report covers, checked once for all of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

# Longer than a year, so "the last 365 days" and a year-on-year comparison of a month both fit;
# short enough that no report reads more than about 400 days of roll-ups.
MAX_REPORT_DAYS = 400
# The most rows a top-N report returns.
MAX_LIMIT = 500


class ReportPeriodError(ValueError):
    """A report was asked for a period it cannot cover; ``str()`` is safe to show to staff."""


def check_period(*, start: object, end: object) -> int:
    """The number of days in ``start``..``end`` (both included), or ``ReportPeriodError``."""
    if not isinstance(start, date) or isinstance(start, datetime):
        raise ReportPeriodError("The start must be a date.")
    if not isinstance(end, date) or isinstance(end, datetime):
        raise ReportPeriodError("The end must be a date.")
    if start > end:
        raise ReportPeriodError(f"The start ({start}) is after the end ({end}).")
    today = timezone.localdate()
    if end > today:
        raise ReportPeriodError(f"The end ({end}) is in the future; the last day with data is today ({today}).")
    days = (end - start).days + 1
    if days > MAX_REPORT_DAYS:
        raise ReportPeriodError(f"The period is {days} days long; reports cover at most {MAX_REPORT_DAYS} days.")
    return days


def check_limit(limit: object) -> int:
    """A top-N size from 1 to ``MAX_LIMIT``, or ``ReportPeriodError``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ReportPeriodError(f"The number of rows must be from 1 to {MAX_LIMIT}.")
    return limit


def day_bounds(*, start: date, end: date) -> tuple[datetime, datetime]:
    """``[start 00:00, the day after end 00:00)`` in UTC: the instants the period covers."""
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def previous_period(*, start: date, end: date) -> tuple[date, date]:
    """The period of the same length just before ``start``..``end`` (for trends)."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)
