"""``/metrics``: the fleet's totals in Prometheus text, for staff and the scraper's token only."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from analytics.metrics import store
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import UserFactory

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def staff_client(db):
    from django.contrib.auth.models import Permission

    staff = UserFactory(username="staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_reports", content_type__app_label="analytics"))
    client = Client()
    client.force_login(staff)
    return client


def _families(response) -> dict:
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def _samples(family) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value for sample in family.samples}


@pytest.mark.django_db
def test_staff_read_histograms_and_error_counters_per_route_class(staff_client):
    for duration in (3.0, 40.0, 40.0, 150.0, 700.0):
        store.observe_request(route_class="search", duration_ms=duration, is_error=duration > 500)
    store.observe_task(task_name="search.sync_pending_books", duration_ms=1200.0, is_failed=True)
    response = staff_client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "private, no-store"
    families = _families(response)
    search = {"route_class": "search"}
    requests = _samples(families["cloudshelf_request_duration_seconds"])
    key = tuple(search.items())
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "0.005"), *key))] == 1
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "0.05"), *key))] == 3
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "0.2"), *key))] == 4
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "0.5"), *key))] == 4
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "1.0"), *key))] == 5
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "+Inf"), *key))] == 5
    assert requests[("cloudshelf_request_duration_seconds_count", key)] == 5
    assert requests[("cloudshelf_request_duration_seconds_sum", key)] == pytest.approx(0.933)
    errors = _samples(families["cloudshelf_request_errors"])
    assert errors[("cloudshelf_request_errors_total", key)] == 1
    task = (("task", "search.sync_pending_books"),)
    tasks = _samples(families["cloudshelf_task_duration_seconds"])
    assert tasks[("cloudshelf_task_duration_seconds_count", task)] == 1
    assert tasks[("cloudshelf_task_duration_seconds_bucket", (("le", "1.0"), *task))] == 0
    assert tasks[("cloudshelf_task_duration_seconds_bucket", (("le", "2.0"), *task))] == 1
    assert _samples(families["cloudshelf_task_failures"])[("cloudshelf_task_failures_total", task)] == 1


@pytest.mark.django_db
def test_the_totals_are_the_fleets_read_from_redis(staff_client):
    """Counts another process flushed show here: any node answers for all."""
    from django_redis import get_redis_connection

    get_redis_connection("durable").hset(
        store.totals_key(), mapping={"route:api:le3": 7, "route:api:n": 7, "route:api:s": 0.21}
    )
    requests = _samples(_families(staff_client.get("/metrics"))["cloudshelf_request_duration_seconds"])
    assert requests[("cloudshelf_request_duration_seconds_count", (("route_class", "api"),))] == 7
    assert requests[("cloudshelf_request_duration_seconds_bucket", (("le", "0.05"), ("route_class", "api")))] == 7


@pytest.mark.django_db
def test_the_scrapers_token_reads_metrics(settings):
    settings.METRICS_TOKEN = TOKEN
    response = Client(headers={"Authorization": f"Bearer {TOKEN}"}).get("/metrics")
    assert response.status_code == 200
    assert "cloudshelf_request_duration_seconds" in _families(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer " + "x" * 10_000,
    ],
)
def test_a_wrong_or_missing_token_gets_the_sites_404(settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = Client(headers=headers).get("/metrics")
    assert response.status_code == 404
    assert b"cloudshelf_" not in response.content


@pytest.mark.django_db
def test_an_empty_token_setting_admits_no_token_at_all(settings):
    settings.METRICS_TOKEN = ""
    assert Client(headers={"Authorization": "Bearer "}).get("/metrics").status_code == 404


@pytest.mark.django_db
def test_customers_and_partners_never_see_metrics(settings, customer_client):
    settings.METRICS_TOKEN = TOKEN
    partner_key = issue_key(PartnerFactory()).raw_key
    inactive_staff = Client()
    inactive_staff.force_login(UserFactory(username="gone", is_staff=True, is_active=False))
    staff_not_allowed_the_reports = Client()
    staff_not_allowed_the_reports.force_login(UserFactory(username="clerk", is_staff=True))
    answers = [
        Client().get("/metrics").status_code,
        customer_client.get("/metrics").status_code,
        Client(headers={"Authorization": f"Bearer {partner_key}"}).get("/metrics").status_code,
        Client(headers={"X-API-Key": partner_key}).get("/metrics").status_code,
        inactive_staff.get("/metrics").status_code,
        staff_not_allowed_the_reports.get("/metrics").status_code,
    ]
    assert answers == [404, 404, 404, 404, 404, 404]


@pytest.mark.django_db
def test_any_method_from_a_stranger_is_a_404_and_staff_may_only_read(staff_client):
    stranger = Client(enforce_csrf_checks=True)
    assert [stranger.generic(method, "/metrics").status_code for method in ("POST", "PUT", "DELETE")] == [404] * 3
    assert staff_client.post("/metrics").status_code == 405
    assert staff_client.head("/metrics").status_code == 200


@pytest.mark.django_db
def test_metrics_is_never_kept_by_a_shared_cache(staff_client):
    response = staff_client.get("/metrics")
    assert "public" not in response["Cache-Control"]
    assert "no-store" in response["Cache-Control"]
    assert "X-Page-Cache" not in response
