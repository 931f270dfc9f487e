"""Each report page shows the known shop's exact figures, a chart and a CSV link; an empty period says so."""

import datetime as dt

import pytest

from tests.analytics.admin_reports.conftest import days_ago
from tests.analytics.admin_reports.page_tables import section_html, section_rows

WEEK = "?days=7"


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_sales_page_shows_each_day_and_the_totals(reports_client, known_shop):
    html = page(reports_client, "/admin/reports/sales/" + WEEK)
    rows = section_rows(html, "sales")
    assert rows[0] == ["Day or week from", "Orders", "Copies", "Revenue (USD)"]
    assert [days_ago(3).isoformat(), "1", "2", "20.00"] in rows
    assert [days_ago(1).isoformat(), "1", "2", "35.50"] in rows
    assert [days_ago(2).isoformat(), "0", "0", "0.00"] in rows
    assert len(rows) == 1 + 7 + 1  # header, every day of the week, totals
    assert rows[-1] == ["Total", "2", "4", "55.50"]
    assert 'class="chart chart-columns"' in section_html(html, "sales")


def test_sales_by_week_starts_each_row_on_a_monday_or_the_period_start(reports_client, known_shop):
    start, end = days_ago(13), days_ago(0)
    html = page(reports_client, f"/admin/reports/sales/?days=&start={start}&end={end}&grain=week")
    rows = section_rows(html, "sales")[1:-1]
    assert rows[0][0] == start.isoformat()
    assert all(row[0] == start.isoformat() or dt.date.fromisoformat(row[0]).weekday() == 0 for row in rows)
    assert section_rows(html, "sales")[-1] == ["Total", "2", "4", "55.50"]


def test_categories_page_shows_revenue_and_share_per_category(reports_client, known_shop):
    rows = section_rows(page(reports_client, "/admin/reports/categories/" + WEEK), "categories")
    assert rows == [
        ["Category", "Copies", "Revenue (USD)", "Share of revenue"],
        ["Fiction", "3", "30.00", "54.1 %"],
        ["Science", "1", "25.50", "45.9 %"],
        ["Total", "4", "55.50", ""],
    ]


def test_top_sellers_page_ranks_books_by_copies(reports_client, known_shop):
    html = page(reports_client, "/admin/reports/top-sellers/" + WEEK)
    dune, cosmos = known_shop["dune"], known_shop["cosmos"]
    assert section_rows(html, "top-sellers") == [
        ["Title", "ISBN", "Orders", "Copies", "Revenue (USD)"],
        ["Dune", dune.isbn13, "2", "3", "30.00"],
        ["Cosmos", cosmos.isbn13, "1", "1", "25.50"],
    ]
    assert 'class="chart chart-bars"' in html


def test_searches_page_shows_top_and_zero_result_queries_with_their_trend(reports_client, known_shop):
    html = page(reports_client, "/admin/reports/searches/" + WEEK)
    assert section_rows(html, "top-searches") == [
        ["Query", "Searches", "Period before", "Change", "Change %", "Found nothing"],
        ["dune", "7", "2", "+5", "250.0 %", "0"],
        ["=HYPERLINK(1)", "3", "0", "+3", "\N{EN DASH}", "3"],
    ]
    assert section_rows(html, "zero-result-searches")[1:] == [["=HYPERLINK(1)", "3", "0", "+3", "\N{EN DASH}", "3"]]


def test_funnel_page_shows_each_stage_and_its_conversion(reports_client, known_shop):
    html = page(reports_client, "/admin/reports/funnel/" + WEEK)
    assert section_rows(html, "funnel") == [
        ["Stage", "Count", "From the stage before", "From product views"],
        ["Product views", "1,000", "\N{EN DASH}", "100.0 %"],
        ["Added to cart", "200", "20.0 %", "20.0 %"],
        ["Checkout started", "50", "25.0 %", "5.0 %"],
        ["Order placed", "2", "4.0 %", "0.2 %"],
    ]
    assert 'class="chart chart-funnel"' in html
    assert section_rows(html, "funnel-by-day")[-1] == ["Total", "1,000", "200", "50", "2"]


def test_low_stock_page_lists_books_at_or_under_the_threshold_with_their_pace(reports_client, known_shop):
    rows = section_rows(page(reports_client, "/admin/reports/low-stock/" + WEEK), "low-stock")
    assert rows == [
        ["Title", "ISBN", "In stock", "Sold in the period", "Per day", "Days of stock left"],
        ["Dune", known_shop["dune"].isbn13, "2", "3", "0.4", "4.7"],
    ]


@pytest.mark.parametrize(
    ("slug", "keys"),
    [
        ("sales", ["sales"]),
        ("categories", ["categories"]),
        ("top-sellers", ["top-sellers"]),
        ("searches", ["top-searches", "zero-result-searches"]),
        ("funnel", ["funnel", "funnel-by-day"]),
        ("low-stock", ["low-stock"]),
    ],
)
def test_a_period_without_data_says_so_instead_of_drawing_an_empty_chart(reports_client, slug, keys):
    html = page(reports_client, f"/admin/reports/{slug}/")
    for key in keys:
        section = section_html(html, key)
        assert "No data in this period." in section
        assert "<svg" not in section
        assert f'href="/admin/reports/{slug}/{key}.csv?' in section


def test_the_default_period_is_the_last_30_days_and_the_select_says_so(reports_client, known_shop):
    html = page(reports_client, "/admin/reports/sales/")
    assert '<option value="30" selected>Last 30 days</option>' in html
    assert len(section_rows(html, "sales")) == 1 + 30 + 1


def test_the_index_lists_every_report(reports_client):
    html = page(reports_client, "/admin/reports/")
    for path in ["sales", "categories", "top-sellers", "searches", "funnel", "low-stock", "performance"]:
        assert f'href="/admin/reports/{path}/"' in html


def test_report_pages_look_like_the_admin_and_load_their_stylesheet(reports_client):
    html = page(reports_client, "/admin/reports/sales/")
    assert '<div class="breadcrumbs">' in html
    assert 'href="/admin/reports/">Reports</a> &rsaquo; Sales' in html
    assert "/static/admin_reports/reports.css" in html
    assert "/static/admin/css/dark_mode.css" in html
    # CSP: nothing inline.
    assert " style=" not in html
    assert "<style" not in html


def test_an_unknown_report_is_a_404(reports_client):
    assert reports_client.get("/admin/reports/profits/").status_code == 404
    assert reports_client.get("/admin/reports/sales/profits.csv").status_code == 404


def test_the_sidebar_lists_the_reports_and_marks_the_current_one(reports_client):
    html = page(reports_client, "/admin/reports/funnel/")
    assert '<a href="/admin/reports/funnel/" aria-current="page">Funnel</a>' in html
    assert '<a href="/admin/reports/sales/">Sales</a>' in html
    assert "have permission to view or edit anything" not in html


def test_report_pages_keep_the_sites_content_security_policy(reports_client):
    response = reports_client.get("/admin/reports/performance/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy


def test_a_section_with_figures_only_outside_its_charted_column_is_not_empty():
    """Days with orders but no counted product views (beacons blocked) still show their funnel."""
    from datetime import date

    from analytics.admin_reports.pages import page_of
    from analytics.reports import FunnelDay

    [section] = [section for section in page_of("funnel").sections if section.key == "funnel-by-day"]
    no_views = [FunnelDay(day=date(2026, 11, 30), views=0, adds=2, checkouts=1, orders=1)]
    nothing = [FunnelDay(day=date(2026, 11, 30), views=0, adds=0, checkouts=0, orders=0)]

    assert (section.is_empty(no_views), section.is_empty(nothing), section.is_empty([])) == (False, True, True)
