"""API keys: issued once, stored as a hash, found by hash, revocable, last use recorded, admin."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from partners.models import ApiKey
from partners.services import api_key_revoke, api_key_use_marker
from tests.api.conftest import key_client
from tests.api.factories import PartnerFactory, issue_key

pytestmark = pytest.mark.django_db

KEY_SHAPE = re.compile(r"^cs_live_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}$")


def test_an_issued_key_is_stored_only_as_its_sha256(partner):
    issued = issue_key(partner)

    row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert KEY_SHAPE.match(issued.raw_key)
    assert row.key_hash == hashlib.sha256(issued.raw_key.encode()).hexdigest()
    assert row.prefix == issued.raw_key.split(".")[0]
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert not any(issued.raw_key in value or issued.raw_key.split(".")[1] in value for value in stored)


def test_two_keys_never_share_a_prefix_or_a_secret(partner):
    first, second = issue_key(partner), issue_key(partner)

    assert first.api_key.prefix != second.api_key.prefix
    assert first.raw_key.split(".")[1] != second.raw_key.split(".")[1]


def test_a_key_works_as_bearer_token_and_as_x_api_key(partner_key):
    assert key_client(partner_key.raw_key).get("/api/v1/categories/").status_code == 200
    assert Client(headers={"X-API-Key": partner_key.raw_key}).get("/api/v1/categories/").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer cs_live_abcdefgh.not-the-secret"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "x" * 5000},
        {"X-API-Key": ""},
    ],
)
def test_a_wrong_key_is_401_authentication_failed(db, headers):
    response = Client(headers=headers).get("/api/v1/categories/")

    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "message": "The API key is not valid or has been revoked.",
        "fields": {},
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="CloudShelf Partner API"'


def test_no_key_is_401_not_authenticated(db):
    response = Client().get("/api/v1/books/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_revoked_key_gets_401_on_its_next_request(partner_key, api):
    assert api.get("/api/v1/categories/").status_code == 200

    api_key_revoke(api_key=partner_key.api_key)

    response = api.get("/api/v1/categories/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_revoking_twice_keeps_the_first_time(partner_key):
    first = api_key_revoke(api_key=partner_key.api_key).revoked_at
    ApiKey.objects.filter(pk=partner_key.api_key.pk).update(revoked_at=first - timedelta(days=1))

    again = api_key_revoke(api_key=partner_key.api_key).revoked_at

    assert again == first - timedelta(days=1)


def test_revoking_one_key_leaves_the_partners_other_keys_working(partner, partner_key):
    spare = issue_key(partner, name="spare")

    api_key_revoke(api_key=partner_key.api_key)

    assert key_client(spare.raw_key).get("/api/v1/categories/").status_code == 200


def test_a_request_records_when_the_key_was_last_used(partner_key, api):
    before = timezone.now()

    api.get("/api/v1/categories/")

    partner_key.api_key.refresh_from_db()
    assert partner_key.api_key.last_used_at is not None
    assert before <= partner_key.api_key.last_used_at <= timezone.now()


def test_last_use_is_written_once_per_interval_however_many_requests(partner_key, api, django_assert_num_queries):
    with django_assert_num_queries(3):  # the key (+ partner), the last-use UPDATE, the category tree
        api.get("/api/v1/categories/")
    first_use = ApiKey.objects.get(pk=partner_key.api_key.pk).last_used_at

    with django_assert_num_queries(0):  # key and tree cached; the use was already written this minute
        for _ in range(5):
            api.get("/api/v1/categories/")

    assert ApiKey.objects.get(pk=partner_key.api_key.pk).last_used_at == first_use


def test_last_use_is_written_again_in_the_next_interval(partner_key, api):
    api.get("/api/v1/categories/")
    caches["durable"].delete(api_key_use_marker(api_key=partner_key.api_key))  # as when the marker expires
    ApiKey.objects.filter(pk=partner_key.api_key.pk).update(last_used_at=timezone.now() - timedelta(hours=1))

    api.get("/api/v1/categories/")

    assert timezone.now() - ApiKey.objects.get(pk=partner_key.api_key.pk).last_used_at < timedelta(seconds=5)


def test_a_cached_key_is_the_same_key_with_the_same_partner(partner_key, partner):
    from cloudshelf.api.authentication import api_key_for_raw_key

    from_database = api_key_for_raw_key(partner_key.raw_key)
    from_cache = api_key_for_raw_key(partner_key.raw_key)

    assert from_cache is not from_database
    assert (from_cache.pk, from_cache.prefix, from_cache.can_write) == (
        from_database.pk,
        from_database.prefix,
        from_database.can_write,
    )
    assert (from_cache.partner.pk, from_cache.partner.rate_limit, from_cache.partner.is_active) == (
        partner.pk,
        partner.rate_limit,
        True,
    )


def test_suspending_a_partner_applies_to_the_next_request_despite_the_cache(partner, api):
    assert api.get("/api/v1/categories/").status_code == 200

    partner.is_active = False
    partner.save()  # as the admin's change form does

    assert api.get("/api/v1/categories/").status_code == 403


def test_making_a_key_read_only_applies_to_the_next_request(partner_key, api):
    assert api.post("/api/v1/carts/", {}, content_type="application/json").status_code == 201

    partner_key.api_key.can_write = False
    partner_key.api_key.save()

    assert api.post("/api/v1/carts/", {}, content_type="application/json").status_code == 403


def test_a_read_only_key_may_read_but_not_write(partner):
    read_only = key_client(issue_key(partner, can_write=False).raw_key)

    assert read_only.get("/api/v1/categories/").status_code == 200
    response = read_only.post("/api/v1/carts/", {}, content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"code": "read_only_key", "message": "This API key is read-only.", "fields": {}}


def test_a_suspended_partner_gets_403(partner, api):
    partner.is_active = False
    partner.save()

    response = api.get("/api/v1/categories/")

    assert response.status_code == 403
    assert response.json()["code"] == "partner_suspended"


# --- Admin -----------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(admin)
    return client


def test_adding_a_key_in_the_admin_shows_the_raw_key_once(staff_client, partner):
    response = staff_client.post(
        "/admin/partners/apikey/add/", {"partner": partner.pk, "name": "production", "can_write": "on"}, follow=True
    )

    key = ApiKey.objects.get(partner=partner, name="production")
    shown = [str(message) for message in get_messages(response.wsgi_request)] or [response.content.decode()]
    raw = re.search(r"cs_live_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}", response.content.decode())
    assert raw is not None, shown
    assert hashlib.sha256(raw.group(0).encode()).hexdigest() == key.key_hash
    assert key_client(raw.group(0)).get("/api/v1/categories/").status_code == 200
    # The key's own page never shows it again.
    assert raw.group(0) not in staff_client.get(f"/admin/partners/apikey/{key.pk}/change/").content.decode()


def test_the_partner_action_issues_a_key_and_shows_it(staff_client, partner):
    response = staff_client.post(
        "/admin/partners/partner/", {"action": "issue_api_key", "_selected_action": [partner.pk]}, follow=True
    )

    raw = re.search(r"cs_live_[a-z0-9]{8}\.[A-Za-z0-9_-]{43}", response.content.decode())
    assert raw is not None
    assert ApiKey.objects.filter(partner=partner, key_hash=hashlib.sha256(raw.group(0).encode()).hexdigest()).exists()


def test_the_revoke_action_revokes_only_the_selected_keys(staff_client, partner):
    doomed, kept = issue_key(partner), issue_key(partner)

    staff_client.post("/admin/partners/apikey/", {"action": "revoke", "_selected_action": [doomed.api_key.pk]})

    assert key_client(doomed.raw_key).get("/api/v1/categories/").status_code == 401
    assert key_client(kept.raw_key).get("/api/v1/categories/").status_code == 200


def test_partner_admin_pages_render(staff_client, partner, partner_key):
    assert staff_client.get("/admin/partners/partner/").status_code == 200
    assert staff_client.get(f"/admin/partners/partner/{partner.pk}/change/").status_code == 200
    assert staff_client.get("/admin/partners/apikey/").status_code == 200
    assert staff_client.get("/admin/partners/apikey/add/").status_code == 200
    assert PartnerFactory().api_keys.count() == 0
