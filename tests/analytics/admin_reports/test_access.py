"""Who sees the reports: staff with ``analytics.view_reports`` and superusers; nobody else, page or CSV."""

import pytest

from tests.analytics.admin_reports.conftest import days_ago

PATHS = [
    "/admin/reports/",
    "/admin/reports/sales/",
    "/admin/reports/categories/",
    "/admin/reports/top-sellers/",
    "/admin/reports/searches/",
    "/admin/reports/funnel/",
    "/admin/reports/low-stock/",
    "/admin/reports/performance/",
    "/admin/reports/sales/sales.csv",
    "/admin/reports/categories/categories.csv",
    "/admin/reports/top-sellers/top-sellers.csv",
    "/admin/reports/searches/top-searches.csv",
    "/admin/reports/searches/zero-result-searches.csv",
    "/admin/reports/funnel/funnel.csv",
    "/admin/reports/funnel/funnel-by-day.csv",
    "/admin/reports/low-stock/low-stock.csv",
    "/admin/reports/performance/export.csv",
]


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/admin/reports/")


@pytest.mark.parametrize("path", PATHS)
def test_customers_are_sent_to_the_admin_login_and_see_no_figures(customer_client, known_shop, path):
    response = customer_client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert b"55.50" not in response.content


@pytest.mark.parametrize("path", PATHS)
def test_a_partner_api_key_opens_no_report(partner_client, known_shop, path):
    response = partner_client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("path", PATHS)
def test_staff_without_the_reports_permission_are_refused(staff_client, known_shop, path):
    response = staff_client.get(path)
    assert response.status_code == 403
    assert b"55.50" not in response.content


@pytest.mark.parametrize("path", PATHS)
def test_staff_with_the_permission_see_every_report(reports_client, path):
    assert reports_client.get(path).status_code == 200


@pytest.mark.parametrize("path", PATHS)
def test_superusers_see_every_report(superuser_client, path):
    assert superuser_client.get(path).status_code == 200


def test_an_inactive_member_of_staff_with_the_permission_is_refused(reports_client, known_shop):
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="rita").update(is_active=False)
    response = reports_client.get("/admin/reports/sales/sales.csv")
    assert response.status_code == 302  # the session no longer authenticates


@pytest.mark.parametrize(
    "path", ["/admin/reports/sales/", "/admin/reports/sales/sales.csv", "/admin/reports/performance/"]
)
def test_reports_are_never_kept_by_a_cache(reports_client, path):
    response = reports_client.get(path)
    assert "private" in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]


def test_the_admin_index_links_the_reports_for_those_allowed(reports_client, superuser_client, staff_client):
    for allowed in (reports_client, superuser_client):
        html = allowed.get("/admin/").content.decode()
        assert 'href="/admin/reports/"' in html
        assert 'href="/admin/reports/performance/"' in html
    assert b"/admin/reports/" not in staff_client.get("/admin/").content


def test_the_permission_can_be_granted_in_the_admin_like_any_other(superuser_client, db):
    html = superuser_client.get("/admin/auth/group/add/").content.decode()
    assert "Can view the staff reports and export them as CSV" in html


def test_report_reads_stay_unmade_for_a_refused_visitor(staff_client, known_shop, django_assert_max_num_queries):
    # Refused before any report runs: only the session, the user and their permissions are read.
    with django_assert_max_num_queries(4):
        assert staff_client.get(f"/admin/reports/sales/?days=&start={days_ago(6)}&end={days_ago(0)}").status_code == 403
