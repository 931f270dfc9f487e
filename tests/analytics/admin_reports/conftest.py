"""Fixtures of the report pages' tests: the six kinds of visitor, and a small known shop."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from analytics.metrics import store
from analytics.models import SearchDay, SiteDay
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import BookFactory, CategoryFactory, OrderFactory, OrderLineFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_metrics_store(settings):
    """No server timings from other tests (the metrics middleware counts every request, ours too)."""
    settings.METRICS_FLUSH_SECONDS = 3600
    store.reset_for_tests()
    yield
    store.reset_for_tests()


def _staff(username: str, *, can_view_reports: bool) -> Client:
    user = UserFactory(username=username, is_staff=True)
    if can_view_reports:
        user.user_permissions.add(Permission.objects.get(codename="view_reports", content_type__app_label="analytics"))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reports_client(db) -> Client:
    """Staff with ``analytics.view_reports``."""
    return _staff("rita", can_view_reports=True)


@pytest.fixture
def staff_client(db) -> Client:
    """Staff without the permission (edits the catalog, say)."""
    return _staff("sam", can_view_reports=False)


@pytest.fixture
def superuser_client(db) -> Client:
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def partner_client(db) -> Client:
    """A partner's API key as a bearer token: it opens the API, nothing else."""
    key = issue_key(PartnerFactory(name="Acme Books"))
    return Client(headers={"Authorization": f"Bearer {key.raw_key}"})


def days_ago(days: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=days)


def paid_at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)


@pytest.fixture
def known_shop(db) -> dict:
    """Two sold orders and one cancelled, the funnel's days and the searches, all in the last week.

    Sales: 3 days ago one order of 2 x "Dune" at 10.00 (Fiction); 1 day ago one order of
    1 x "Dune" and 1 x "Cosmos" at 25.50 (Science). A cancelled order counts for nothing.
    Searches: "dune" 7 times (2 the week before), "=HYPERLINK(1)" 3 times, all zero-result.
    """
    fiction = CategoryFactory(name="Fiction")
    science = CategoryFactory(name="Science")
    dune = BookFactory(title="Dune", price=Decimal("10.00"), category=fiction, stock=2)
    cosmos = BookFactory(title="Cosmos", price=Decimal("25.50"), category=science, stock=40)
    first = OrderFactory(paid_at=paid_at(days_ago(3)), total=Decimal("20.00"))
    OrderLineFactory(order=first, book=dune, quantity=2)
    second = OrderFactory(paid_at=paid_at(days_ago(1)), total=Decimal("35.50"))
    OrderLineFactory(order=second, book=dune, quantity=1)
    OrderLineFactory(order=second, book=cosmos, quantity=1)
    cancelled = OrderFactory(status="cancelled", paid_at=paid_at(days_ago(1)), total=Decimal("10.00"))
    OrderLineFactory(order=cancelled, book=dune, quantity=1)
    SiteDay.objects.create(day=days_ago(3), views=600, adds=120, checkouts=30, orders=1)
    SiteDay.objects.create(day=days_ago(1), views=400, adds=80, checkouts=20, orders=1)
    SearchDay.objects.create(day=days_ago(2), query="dune", searches=7, zero_results=0, results_total=70)
    SearchDay.objects.create(day=days_ago(9), query="dune", searches=2, zero_results=0, results_total=20)
    SearchDay.objects.create(day=days_ago(2), query="=HYPERLINK(1)", searches=3, zero_results=3, results_total=0)
    return {"dune": dune, "cosmos": cosmos}
