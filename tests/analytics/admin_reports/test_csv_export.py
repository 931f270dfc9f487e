"""CSV export: a UTF-8 file named for its report and period, raw numbers, formulas defused."""

import csv
import io

from tests.analytics.admin_reports.conftest import days_ago


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def test_sales_csv_is_named_for_the_report_and_period_and_holds_raw_numbers(reports_client, known_shop):
    start, end = days_ago(6), days_ago(0)
    response = reports_client.get(f"/admin/reports/sales/sales.csv?start={start}&end={end}")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="cloudshelf-sales-day_{start}_{end}.csv"'
    rows = read_csv(response)
    assert rows[0] == ["period_start", "orders", "units", "revenue"]
    assert [days_ago(3).isoformat(), "1", "2", "20.00"] in rows
    assert [days_ago(1).isoformat(), "1", "2", "35.50"] in rows
    assert len(rows) == 1 + 7


def test_weekly_sales_csv_says_so_in_its_name(reports_client, known_shop):
    response = reports_client.get("/admin/reports/sales/sales.csv?days=7&grain=week")
    assert 'filename="cloudshelf-sales-week_' in response["Content-Disposition"]
    assert sum(int(row[2]) for row in read_csv(response)[1:]) == 4


def test_category_csv_keeps_thousands_unseparated_and_rates_as_fractions(reports_client, known_shop):
    rows = read_csv(reports_client.get("/admin/reports/categories/categories.csv?days=7"))
    assert rows == [
        ["category", "units", "revenue", "share"],
        ["Fiction", "3", "30.00", "0.5405"],
        ["Science", "1", "25.50", "0.4595"],
    ]


def test_search_queries_that_look_like_formulas_are_exported_as_text(reports_client, known_shop):
    rows = read_csv(reports_client.get("/admin/reports/searches/zero-result-searches.csv?days=7"))
    assert rows == [
        ["query", "count", "previous", "change", "change_ratio", "zero_results"],
        ["'=HYPERLINK(1)", "3", "0", "3", "", "3"],
    ]


def test_every_formula_start_is_defused_but_negative_numbers_stay_numbers(reports_client, known_shop):
    from analytics.models import SearchDay

    for query in ["+cmd", "-2+3", "@sum(a1)", "\ttab", "\rcr", "plain"]:
        SearchDay.objects.create(day=days_ago(0), query=query, searches=1, zero_results=1, results_total=0)
    rows = read_csv(reports_client.get("/admin/reports/searches/top-searches.csv?days=7"))
    queries = {row[0] for row in rows[1:]}
    assert {"'+cmd", "'-2+3", "'@sum(a1)", "'\ttab", "'\rcr", "plain", "'=HYPERLINK(1)", "dune"} == queries
    changes = [row[3] for row in rows[1:]]
    assert "5" in changes  # dune: 7 against 2, a number, not text


def test_a_csv_of_an_empty_period_is_just_its_header(reports_client, db):
    rows = read_csv(reports_client.get("/admin/reports/top-sellers/top-sellers.csv"))
    assert rows == [["isbn13", "title", "orders", "units", "revenue"]]


def test_non_ascii_titles_survive_as_utf8(reports_client, known_shop):
    from catalog.models import Book

    Book.objects.filter(pk=known_shop["cosmos"].pk).update(title="Cosmos — Ñandú édition 宇宙")
    rows = read_csv(reports_client.get("/admin/reports/top-sellers/top-sellers.csv?days=7"))
    assert rows[2][1] == "Cosmos — Ñandú édition 宇宙"


def test_performance_csv_has_one_row_per_window_source_class_and_measure(reports_client, db):
    response = reports_client.get("/admin/reports/performance/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="cloudshelf-performance_' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == [
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
    assert ["Last hour", "server", "cart", "Server response", "0", "", "", "", "200", ""] in rows
    assert len(rows) == 1 + 2 * 8  # no beacons: the server's eight classes in each window
