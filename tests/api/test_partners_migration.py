"""Moving Partner, ApiKey and PartnerCart from ``cloudshelf.api`` to ``partners`` keeps a populated database's data."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from partners.models import ApiKey, Partner, PartnerCart

BEFORE_THE_MOVE = [("api", "0002_partner_carts"), ("partners", None)]
AFTER_THE_MOVE = [("partners", "0001_initial")]


def migrate(targets: list[tuple[str, str | None]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.fixture
def before_the_move(transactional_db):
    """The database as it was before the move (both moves are state only, so this is quick); forward again after."""
    old_state = migrate(BEFORE_THE_MOVE).loader.project_state(BEFORE_THE_MOVE[0]).apps
    yield old_state
    migrate(AFTER_THE_MOVE)


def test_rows_written_under_the_api_app_are_read_by_the_partners_app(before_the_move):
    old_partner_model = before_the_move.get_model("api", "Partner")
    old_key_model = before_the_move.get_model("api", "ApiKey")
    old_cart_model = before_the_move.get_model("api", "PartnerCart")
    old_partner = old_partner_model.objects.create(name="Bookworms", plan="growth", custom_rate_per_second=None)
    old_key = old_key_model.objects.create(
        partner=old_partner, name="production", prefix="cs_live_abcd1234", key_hash="f" * 64, can_write=False
    )
    old_cart = old_cart_model.objects.create(partner=old_partner, customer_reference="customer-7")
    # As in a database the admin has run on: the content type and a permission under the old app.
    content_type, _ = ContentType.objects.get_or_create(app_label="api", model="apikey")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename="view_apikey", defaults={"name": "Can view API key"}
    )

    migrate(AFTER_THE_MOVE)
    ContentType.objects.clear_cache()

    partner = Partner.objects.get()
    assert (partner.pk, partner.name, partner.plan) == (old_partner.pk, "Bookworms", "growth")
    key = ApiKey.objects.select_related("partner").get()
    assert (key.pk, key.prefix, key.key_hash, key.can_write, key.partner) == (
        old_key.pk,
        "cs_live_abcd1234",
        "f" * 64,
        False,
        partner,
    )
    cart = PartnerCart.objects.get()
    assert (cart.pk, cart.partner, cart.customer_reference) == (old_cart.pk, partner, "customer-7")
    # The admin permission follows the model: same row, now on the partners app's content type.
    permission.refresh_from_db()
    assert (permission.content_type.app_label, permission.content_type.model) == ("partners", "apikey")
    assert ContentType.objects.get_for_model(ApiKey).pk == content_type.pk


def test_the_move_can_be_undone_without_losing_rows(before_the_move):
    old_partner = before_the_move.get_model("api", "Partner").objects.create(name="Library of Alexandria")
    migrate(AFTER_THE_MOVE)

    migrate(BEFORE_THE_MOVE)

    assert before_the_move.get_model("api", "Partner").objects.get().pk == old_partner.pk
