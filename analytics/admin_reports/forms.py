"""The period picker of every report page: a preset (last 7/30/90/365 days) or two dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone

from analytics.reports.period import MAX_REPORT_DAYS

PRESET_DAYS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
# The reports refuse longer periods; the form says so before they are asked.
MAX_PERIOD_DAYS = MAX_REPORT_DAYS
EARLIEST_DAY = dt.date(2000, 1, 1)
GRAINS = (("day", "Day"), ("week", "Week"))


@dataclass(frozen=True)
class Period:
    """Days ``start`` to ``end``, both included."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def slug(self) -> str:
        """The period in a file name: ``2026-11-03_2026-12-02``."""
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


class PeriodForm(forms.Form):
    """GET parameters ``days`` (a preset; empty for custom dates), ``start``/``end``, and ``grain`` where needed.

    The select decides: a preset ignores the dates; "Custom dates" needs both. Nothing given
    means the last 30 days; dates without ``days`` (a link) mean those dates.
    """

    days = forms.TypedChoiceField(
        choices=[*((str(days), f"Last {days} days") for days in PRESET_DAYS), ("", "Custom dates")],
        coerce=int,
        required=False,
        empty_value=None,
        label="Period",
    )
    start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    grain = forms.ChoiceField(choices=GRAINS, required=False, label="By")

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # Without ``days`` (a link with dates, or no parameters at all), dates mean a custom
        # period and nothing means the default preset, which the select then shows.
        if data is not None and "days" not in data:
            data = data.copy()
            data["days"] = "" if data.get("start") or data.get("end") else str(DEFAULT_DAYS)
        super().__init__(data, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if self.errors or cleaned.get("days"):
            return cleaned  # a preset ignores the dates
        if start is None or end is None:
            raise forms.ValidationError("Give both dates of a custom period, or choose a preset.")
        today = timezone.localdate()
        if start < EARLIEST_DAY:
            raise forms.ValidationError(f"The period cannot start before {EARLIEST_DAY.isoformat()}.")
        if end > today:
            raise forms.ValidationError("The period cannot end in the future.")
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if (end - start).days + 1 > MAX_PERIOD_DAYS:
            raise forms.ValidationError(f"A period is at most {MAX_PERIOD_DAYS} days.")
        return cleaned

    def period(self) -> Period:
        """The chosen period; call after ``is_valid()``."""
        days = self.cleaned_data.get("days")
        if days:
            today = timezone.localdate()
            return Period(start=today - dt.timedelta(days=days - 1), end=today)
        return Period(start=self.cleaned_data["start"], end=self.cleaned_data["end"])

    def chosen_grain(self) -> str:
        """``day`` or ``week``; call after ``is_valid()``."""
        return self.cleaned_data.get("grain") or "day"
