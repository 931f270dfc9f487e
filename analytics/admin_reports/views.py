"""The report pages and their CSV files: staff with ``analytics.view_reports`` only.

Every view goes through ``report_view``: the admin's own gate first (``admin_view``: signed-in
active staff, else the admin login; never cached), then the reports permission (else 403).
Customers and partners' API keys are not staff, so they meet the login page, like anyone
signed out. The views are thin: validate the period, call the report, render.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from analytics.access import can_view_reports
from analytics.admin_reports import charts
from analytics.admin_reports.forms import Period, PeriodForm
from analytics.admin_reports.pages import PAGES, Section, page_of
from analytics.admin_reports.performance import performance_windows
from analytics.events import analytics_currency
from analytics.metrics.classify import SERVICE_LEVELS_MS
from analytics.reports import ReportPeriodError, csv_rows
from analytics.reports.export import csv_cell

View = Callable[..., HttpResponse]


def report_view(view: View) -> View:
    @wraps(view)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_view_reports(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return admin.site.admin_view(checked)


def _context(request: HttpRequest, **values: Any) -> dict[str, Any]:
    """The admin's context (sidebar, header, theme toggle) plus the page's values."""
    return {**admin.site.each_context(request), "report_pages": PAGES, **values}


def _period_form(request: HttpRequest) -> tuple[PeriodForm, Period | None]:
    form = PeriodForm(request.GET)
    return form, (form.period() if form.is_valid() else None)


@report_view
def index(request: HttpRequest) -> HttpResponse:
    return TemplateResponse(request, "admin/reports/index.html", _context(request, title="Reports"))


@report_view
def report(request: HttpRequest, slug: str) -> HttpResponse:
    page = page_of(slug)
    form, period = _period_form(request)
    sections: list[dict[str, Any]] = []
    if period is not None:
        try:
            sections = [_section_view(section, period, form.chosen_grain()) for section in page.sections]
        except ReportPeriodError as error:
            form.add_error(None, str(error))
    context = _context(request, title=page.title, page=page, form=form, period=period, sections=sections)
    return TemplateResponse(request, "admin/reports/report.html", context, status=200 if form.is_valid() else 400)


def _section_view(section: Section, period: Period, grain: str) -> dict[str, Any]:
    rows = section.fetch(period, grain)
    is_empty = section.is_empty(rows)
    numeric = [column.kind not in ("text", "date") for column in section.columns]
    total = section.total_row(rows)
    return {
        "section": section,
        "is_empty": is_empty,
        "chart": None if is_empty else section.draw(rows),
        "headings": [
            f"{column.heading} ({analytics_currency()})" if column.kind == "money" else column.heading
            for column in section.columns
        ],
        # Each cell with whether it is a number (right-aligned).
        "rows": [list(zip(cells, numeric, strict=True)) for cells in section.table(rows)],
        "total": list(zip(total, numeric, strict=True)) if total else None,
    }


@report_view
def export(request: HttpRequest, slug: str, section_key: str) -> HttpResponse:
    page = page_of(slug)
    section = page.section(section_key)
    form, period = _period_form(request)
    if period is None:
        return _bad_period(form)
    try:
        rows = section.fetch(period, form.chosen_grain())
    except ReportPeriodError as error:
        form.add_error(None, str(error))
        return _bad_period(form)
    grain = f"-{form.chosen_grain()}" if page.has_grain else ""
    return csv_response(filename=f"{section.key}{grain}_{period.slug()}.csv", rows=csv_rows(section.row_type, rows))


def _bad_period(form: PeriodForm) -> HttpResponse:
    messages = [str(message) for errors in form.errors.values() for message in errors]
    return HttpResponse("\n".join(messages) + "\n", status=400, content_type="text/plain; charset=utf-8")


def csv_response(*, filename: str, rows: Iterable[list[str]]) -> HttpResponse:
    """A UTF-8 CSV download of ``rows`` (a report's header and rows: bounded, so written at once)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cloudshelf-{filename}"'
    csv.writer(response).writerows(rows)
    return response


@report_view
def performance(request: HttpRequest) -> HttpResponse:
    windows = performance_windows()
    drawn = [
        {
            "window": window,
            "chart_id": f"levels-{window.minutes}",
            "chart": charts.level_chart(
                [(row.route_class, row.p95, row.level_ms) for row in window.server if row.level_ms is not None]
            ),
            "real_users_chart_id": f"real-users-{window.minutes}",
            "real_users_chart": charts.level_chart(
                [
                    (f"{row.route_class} · {row.short_measure}", row.p95, row.level_ms)
                    for row in window.real_users
                    if row.level_ms is not None
                ]
            ),
        }
        for window in windows
    ]
    context = _context(request, title="Performance", windows=drawn, levels=SERVICE_LEVELS_MS)
    return TemplateResponse(request, "admin/reports/performance.html", context)


PERFORMANCE_CSV_HEADER = [
    "window",
    "source",
    "route_class",
    "measure",
    "count",
    "p50",
    "p95",
    "p99",
    "level_ms",
    "verdict",
]


@report_view
def performance_export(request: HttpRequest) -> HttpResponse:
    def rows() -> Iterable[list[str]]:
        yield PERFORMANCE_CSV_HEADER
        for window in performance_windows():
            for source, lines in (("server", window.server), ("real users", window.real_users)):
                for line in lines:
                    verdict = {True: "met", False: "missed", None: ""}[line.is_met]
                    values = [window.title, source, line.route_class, line.measure, line.count]
                    values += [line.p50, line.p95, line.p99, line.level_ms, verdict]
                    yield [csv_cell(value) for value in values]

    return csv_response(filename=f"performance_{timezone.now():%Y-%m-%dT%H%MZ}.csv", rows=rows())
