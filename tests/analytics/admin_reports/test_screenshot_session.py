"""The screenshot script's staff session (bench/screenshot_reports.py) opens the reports and nothing else."""

from django.test import Client

from bench.screenshot_reports import SCREENSHOT_USER, staff_session, store_beacons


def test_the_minted_session_opens_the_reports_as_a_member_of_staff_without_a_password(db):
    name, value = staff_session()
    client = Client()
    client.cookies[name] = value
    response = client.get("/admin/reports/performance/")
    assert response.status_code == 200
    assert SCREENSHOT_USER in response.content.decode()
    assert client.get("/admin/catalog/book/").status_code == 403  # reports only
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.get(username=SCREENSHOT_USER).has_usable_password()


def test_the_screenshot_beacons_cover_the_last_day(db):
    from analytics.models import RumBeacon

    assert store_beacons() == 1200
    assert set(RumBeacon.objects.values_list("route_class", flat=True)) == {"page", "search", "cart"}
