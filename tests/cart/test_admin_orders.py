"""Orders in the admin as staff see them: who the customer is, and a list that fits a laptop screen."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import services as partner_services
from tests.admin_layout import CHROMIUM, changelist_layout
from tests.api.factories import PartnerFactory
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/cart/order/"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def partner_order():
    partner = PartnerFactory(name="Northwind Books")
    return OrderFactory(user=partner_services.partner_account(partner=partner))


def test_a_partners_order_shows_the_partners_name_in_the_order_list(staff_client, partner_order):
    OrderFactory(user=UserFactory(username="shopper3695222"))

    page = staff_client.get(CHANGELIST).content.decode()

    assert '<td class="field-customer">Northwind Books (partner API)</td>' in page
    assert '<td class="field-customer">shopper3695222</td>' in page
    assert "api-partner:" not in page


def test_a_partners_order_shows_the_partners_name_on_its_page(staff_client, partner_order):
    page = staff_client.get(f"{CHANGELIST}{partner_order.pk}/change/").content.decode()

    assert re.search(r'<div class="readonly">Northwind Books \(partner API\)</div>', page)
    assert "api-partner:" not in page


def test_orders_can_be_found_by_the_partners_name(staff_client, partner_order):
    customers_order = OrderFactory()

    page = staff_client.get(CHANGELIST, {"q": "northwind"}).content.decode()

    assert partner_order.reference in page
    assert customers_order.reference not in page


def test_the_order_list_shows_the_reference_customers_quote_and_finds_orders_by_it(staff_client):
    wanted, other = OrderFactory(), OrderFactory()

    page = staff_client.get(CHANGELIST, {"q": f" {wanted.reference.lower()} "}).content.decode()

    assert f'<span class="nowrap">{wanted.reference}</span></a>' in page
    assert other.reference not in page


def test_a_reference_is_looked_up_exactly_on_its_index(staff_client):
    wanted = OrderFactory()

    with CaptureQueriesContext(connection) as queries:
        staff_client.get(CHANGELIST, {"q": wanted.reference})

    lookups = [query["sql"] for query in queries.captured_queries if wanted.reference in query["sql"]]
    assert lookups
    assert all(f"\"reference\" = '{wanted.reference}'" in sql and "UPPER" not in sql for sql in lookups)


def test_the_order_list_has_short_headers_and_compact_values(staff_client):
    paid_at = timezone.make_aware(timezone.datetime(2026, 12, 2, 14, 5))
    OrderFactory(total=Decimal("1234.56"), paid_at=paid_at)

    page = staff_client.get(CHANGELIST).content.decode()

    headers = re.findall(r'<div class="text"><a href="[^"]*">([^<]+)</a></div>', page)
    assert headers == ["Order", "Customer", "Status", "Total", "Placed", "Paid"]
    assert '<td class="field-total_with_currency">1234.56 USD</td>' in page
    assert (
        '<td class="field-paid"><span class="nowrap">2026-12-02</span> <span class="nowrap">14:05</span></td>' in page
    )


def test_the_order_list_flags_orders_that_need_attention_in_the_status_column(staff_client):
    OrderFactory(status="pending", needs_attention=True)
    OrderFactory(status="paid")

    page = staff_client.get(CHANGELIST).content.decode()

    assert (
        '<td class="field-status_and_attention">Payment being confirmed<br><strong>Needs attention</strong></td>'
        in page
    )
    assert '<td class="field-status_and_attention">Paid</td>' in page


def test_the_order_list_query_count_does_not_grow_with_partner_orders(staff_client, django_assert_max_num_queries):
    OrderFactory()
    staff_client.get(CHANGELIST)  # warm the content-type and session caches
    with django_assert_max_num_queries(8) as few:
        staff_client.get(CHANGELIST)
    for name in ("Alpha", "Beta", "Gamma"):
        OrderFactory(user=partner_services.partner_account(partner=PartnerFactory(name=name)))
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(CHANGELIST)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt install chromium)")
def test_every_order_column_fits_a_1366_pixel_wide_screen(staff_client, tmp_path):
    partner = PartnerFactory(name="Northwind Books & Stationery")
    OrderFactory(user=partner_services.partner_account(partner=partner), total=Decimal("12345.67"))
    OrderFactory(user=UserFactory(username="shopper3695222"), status="pending", needs_attention=True)
    OrderFactory(paid_at=timezone.now())
    html = staff_client.get(CHANGELIST).content.decode()

    layout = changelist_layout(html, tmp_path)

    # The list scrolls sideways inside its box when it is too wide: the "Paid" column must be in view.
    assert layout.viewport == 1366
    assert layout.nav_sidebar_open
    assert layout.overflow == 0
    assert layout.last_column_right <= layout.list_right
    assert html.index("column-paid") > html.index("column-placed")  # "Paid" is the last column
