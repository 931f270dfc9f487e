"""cart 0003 gives every existing order a reference of its own, then makes references required and unique."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cart.models import ORDER_REFERENCE_PATTERN, Order
from tests.factories import UserFactory

BEFORE = [("cart", "0002_order_payment_pending")]
AFTER = [("cart", "0003_order_reference")]


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.fixture
def before_references(transactional_db):
    """The database without references; forward again after."""
    old_state = migrate(BEFORE).loader.project_state(BEFORE[0]).apps
    yield old_state
    migrate(AFTER)


def test_existing_orders_get_distinct_references(before_references):
    old_order = before_references.get_model("cart", "Order")
    user = UserFactory()
    address = {
        "shipping_name": "Alice Reader",
        "shipping_line1": "1 Library Lane",
        "shipping_city": "Booktown",
        "shipping_postal_code": "12345",
        "shipping_country": "GB",
    }
    ids = [
        old_order.objects.create(
            user_id=user.pk, idempotency_key=f"00000000-0000-0000-0000-{n:012d}", currency="USD", **address
        ).pk
        for n in range(5)
    ]

    migrate(AFTER)

    references = dict(Order.objects.values_list("pk", "reference"))
    assert sorted(references) == sorted(ids)
    assert len(set(references.values())) == 5
    assert all(re.fullmatch(ORDER_REFERENCE_PATTERN, reference) for reference in references.values())
