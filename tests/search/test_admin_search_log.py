"""The search log in the admin: staff read it; nobody adds, edits or deletes entries by hand."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from analytics.models import SearchLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/analytics/searchlog/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def search_log():
    return SearchLog.objects.create(
        query="hunger", result_count=0, latency_ms=12.5, is_zero_result=True, backend="opensearch"
    )


def test_staff_can_read_the_search_log(staff_client, search_log):
    assert "hunger" in staff_client.get(CHANGELIST).content.decode()
    assert staff_client.get(f"{CHANGELIST}{search_log.pk}/change/").status_code == 200


def test_the_search_log_offers_no_delete_action(staff_client, search_log):
    page = staff_client.get(CHANGELIST).content.decode()

    assert "delete_selected" not in page
    assert 'name="action"' not in page  # no action bar at all: the log has no bulk actions


def test_search_log_entries_cannot_be_deleted_in_the_admin(staff_client, search_log):
    assert staff_client.get(f"{CHANGELIST}{search_log.pk}/delete/").status_code == 403
    staff_client.post(f"{CHANGELIST}{search_log.pk}/delete/", {"post": "yes"})
    staff_client.post(CHANGELIST, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [search_log.pk], "post": "yes"})

    assert list(SearchLog.objects.all()) == [search_log]


def test_search_log_entries_cannot_be_added_or_changed_in_the_admin(staff_client, search_log):
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403
    staff_client.post(f"{CHANGELIST}{search_log.pk}/change/", {"query": "edited"})

    search_log.refresh_from_db()
    assert search_log.query == "hunger"
