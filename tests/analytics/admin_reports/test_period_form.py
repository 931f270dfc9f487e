"""The period picker: presets, custom dates, and every bad value answered with the form's error, never a 500."""

import datetime as dt

import pytest
from django.utils import timezone

from analytics.admin_reports.forms import Period, PeriodForm
from tests.analytics.admin_reports.conftest import days_ago
from tests.analytics.admin_reports.page_tables import errors


def period_of(data: dict) -> Period:
    form = PeriodForm(data)
    assert form.is_valid(), form.errors
    return form.period()


@pytest.mark.parametrize("days", [7, 30, 90, 365])
def test_a_preset_ends_today_and_counts_today(days):
    today = timezone.localdate()
    assert period_of({"days": str(days)}) == Period(start=today - dt.timedelta(days=days - 1), end=today)


def test_nothing_chosen_means_the_last_30_days():
    assert period_of({}).days == 30


def test_custom_dates_are_the_period_and_a_preset_ignores_them():
    start, end = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
    assert period_of({"days": "", "start": "2026-01-01", "end": "2026-03-31"}) == Period(start=start, end=end)
    assert period_of({"start": "2026-01-01", "end": "2026-03-31"}) == Period(start=start, end=end)  # a link
    assert period_of({"days": "7", "start": "2026-01-01", "end": "2026-03-31"}).days == 7


def test_the_period_names_files():
    assert Period(start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31)).slug() == "2026-01-01_2026-01-31"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("days=&start=2026-13-45&end=2026-11-30", "Enter a valid date."),  # wrong
        ("days=&start=&end=", "Give both dates of a custom period, or choose a preset."),  # empty
        ("days=&start=2026-11-01", "Give both dates of a custom period, or choose a preset."),
        ("days=&start=2026-11-30&end=2026-11-01", "The start date is after the end date."),
        ("days=&start=2020-01-01&end=2026-11-30", "A period is at most 400 days."),  # huge
        ("days=&start=1999-12-31&end=2000-01-31", "The period cannot start before 2000-01-01."),
        ("days=&start=2026-11-01&end=2999-01-01", "The period cannot end in the future."),
        ("days=400000", "Select a valid choice. 400000 is not one of the available choices."),
        ("days=7&grain=hour", "Select a valid choice. hour is not one of the available choices."),
        ("days=&start=<script>alert(1)</script>&end=2026-11-30", "Enter a valid date."),  # hostile
        ("days=&start=" + "9" * 5000 + "&end=2026-11-30", "Enter a valid date."),
        ("days=&start=2026-11-01%00&end=2026-11-30", "Enter a valid date."),
    ],
)
def test_a_bad_period_shows_the_forms_error_and_runs_no_report(reports_client, known_shop, query, message):
    response = reports_client.get("/admin/reports/sales/?" + query)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in errors(html)
    assert "<script>alert(1)</script>" not in html
    assert 'aria-labelledby="section-' not in html  # no report ran


@pytest.mark.parametrize(
    "query", ["days=&start=2026-11-30&end=2026-11-01", "days=&start=nonsense&end=2026-11-30", "days=99"]
)
def test_a_bad_period_of_a_csv_is_a_plain_400(reports_client, db, query):
    response = reports_client.get("/admin/reports/sales/sales.csv?" + query)
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Content-Disposition" not in response


def test_the_grain_choice_is_offered_only_where_a_report_has_one(reports_client, db):
    assert 'name="grain"' in reports_client.get("/admin/reports/sales/").content.decode()
    assert 'name="grain"' not in reports_client.get("/admin/reports/funnel/").content.decode()


def test_the_form_keeps_what_was_asked(reports_client, db):
    html = reports_client.get(f"/admin/reports/sales/?days=&start={days_ago(9)}&end={days_ago(2)}").content.decode()
    assert f'value="{days_ago(9)}"' in html
    assert '<option value="" selected>Custom dates</option>' in html
