"""``seed_analytics``: a deterministic stretch of activity whose roll-ups agree with its raw rows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.utils import timezone

from analytics.models import BookDay, SearchDay, SearchLog, SiteDay
from analytics.reports import funnel, sales_over_time, top_searches
from cart.models import Order, OrderLine
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog():
    return [BookFactory(title=f"Book {index} of Worlds", popularity=index * 10) for index in range(12)]


def seed(*arguments):
    call_command("seed_analytics", "--orders-per-day", "6", *arguments, verbosity=0)


def snapshot():
    return (
        list(Order.objects.order_by("created_at", "reference").values_list("reference", "status", "total", "paid_at")),
        list(SiteDay.objects.order_by("day").values_list("day", "views", "adds", "checkouts", "orders", "revenue")),
        list(SearchDay.objects.order_by("day", "query").values_list("day", "query", "searches", "zero_results")),
    )


def test_the_daily_totals_agree_with_the_orders_and_lines_written(catalog):
    seed("--days", "4")

    yesterday = timezone.localdate() - timedelta(days=1)
    assert list(SiteDay.objects.order_by("day").values_list("day", flat=True)) == [
        yesterday - timedelta(days=offset) for offset in (3, 2, 1, 0)
    ]
    for site in SiteDay.objects.all():
        paid = Order.objects.filter(paid_at__date=site.day)
        lines = OrderLine.objects.filter(order__in=paid)
        assert site.orders == paid.count() > 0
        assert site.checkouts == Order.objects.filter(created_at__date=site.day).count()
        assert site.units == lines.aggregate(units=Sum("quantity"))["units"]
        assert site.revenue == sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
        books = BookDay.objects.filter(day=site.day).aggregate(views=Sum("views"), adds=Sum("adds"), units=Sum("units"))
        assert books == {"views": site.views, "adds": site.adds, "units": site.units}
        searches = SearchDay.objects.filter(day=site.day).aggregate(total=Sum("searches"))["total"]
        assert searches == SearchLog.objects.filter(searched_at__date=site.day).count() > 0


def test_the_reports_read_the_seeded_activity(catalog):
    seed("--days", "3")
    today = timezone.localdate()

    sales = sales_over_time(start=today - timedelta(days=3), end=today)
    stages = funnel(start=today - timedelta(days=3), end=today)

    sold = Order.objects.filter(status__in=["paid", "shipped"])
    assert sum(period.orders for period in sales) == sold.count()
    assert sales[-1].orders == 0  # today is left to live events
    assert [stage.count > 0 for stage in stages] == [True, True, True, True]
    assert top_searches(start=today - timedelta(days=3), end=today)[0].count > 0


def test_zero_result_typos_are_among_the_searches(catalog):
    seed("--days", "10")

    assert SearchDay.objects.filter(zero_results__gt=0).exists()
    assert SearchDay.objects.filter(zero_results=0).exists()


def test_the_same_seed_gives_the_same_activity(catalog):
    seed("--days", "2", "--seed", "9")
    first = snapshot()
    for model in (Order, SiteDay, BookDay, SearchDay, SearchLog):
        model.objects.all().delete()

    seed("--days", "2", "--seed", "9")

    assert snapshot() == first
    assert first[0]  # orders were drawn


def test_another_seed_gives_other_activity(catalog):
    seed("--days", "2", "--seed", "9")
    first = snapshot()
    for model in (Order, SiteDay, BookDay, SearchDay, SearchLog):
        model.objects.all().delete()

    seed("--days", "2", "--seed", "10")

    assert snapshot() != first


def test_seeded_orders_open_in_the_cart_admin(catalog, admin_client):
    seed("--days", "1")
    order = Order.objects.filter(status="paid").first() or Order.objects.first()

    assert admin_client.get(f"/admin/cart/order/{order.pk}/change/").status_code == 200
    assert admin_client.get("/admin/cart/order/").status_code == 200


def test_without_a_catalog_the_seed_is_refused_and_writes_nothing():
    with pytest.raises(
        CommandError, match=r"The catalog has no books priced in USD: run `manage\.py seed_catalog` first"
    ):
        seed("--days", "3")

    assert not Order.objects.exists()
    assert not SiteDay.objects.exists()


def test_a_second_seed_is_refused_and_changes_nothing(catalog):
    seed("--days", "2")
    before = snapshot()

    with pytest.raises(CommandError, match="The reports already have data"):
        seed("--days", "2", "--seed", "3")

    assert snapshot() == before


def test_if_empty_does_nothing_when_there_is_data(catalog, capsys):
    seed("--days", "2")
    before = snapshot()

    call_command("seed_analytics", "--days", "2", "--if-empty")

    assert snapshot() == before
    assert "not seeding (--if-empty)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--days", "0"], "0 is not from 1 to 730"),
        (["--days", "731"], "731 is not from 1 to 730"),
        (["--days", "abc"], "'abc' is not a whole number"),
        (["--days", "10", "--orders-per-day", "0"], "0 is not from 1 to 5,000"),
        (["--seed", "x"], "invalid int value"),
    ],
)
def test_bad_arguments_are_refused(catalog, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("seed_analytics", *arguments, verbosity=0)

    assert not Order.objects.exists()
