"""Orders in the Django admin. Status changes go through ``cart.services`` like every other writer:
cancelling puts the stock back (exactly once), shipping is allowed only for paid orders, and an
order whose payment is being confirmed can be checked with the provider at once.

Orders the reconciliation could not settle after ``CART_PAYMENT_RECONCILE_MAX_CHECKS`` tries are
flagged (``needs_attention``, a list filter): look the charge up in the provider's dashboard,
then cancel the order if it was not charged (or leave it to the next check once the provider answers)."""

from __future__ import annotations

import re
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from cart import services
from cart.models import ORDER_REFERENCE_PATTERN, Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    fields = ["book", "isbn13", "title", "unit_price", "quantity"]
    readonly_fields = ["book", "isbn13", "title", "unit_price", "quantity"]

    def has_add_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False


class OrderStatusForm(forms.ModelForm):
    """Staff may move an order to shipped or cancelled; the services decide whether that is allowed."""

    class Meta:
        model = Order
        fields = ["status"]


# The order's fields by section of its admin page.
_SUMMARY = ("reference", "total", "currency")
_SHIPPING = (
    "shipping_name",
    "shipping_line1",
    "shipping_line2",
    "shipping_city",
    "shipping_region",
    "shipping_postal_code",
    "shipping_country",
)
_PAYMENT = (
    "payment_provider",
    "payment_reference",
    "card_last4",
    "payment_declined",
    "payment_message",
    "payment_attempts",
    "payment_checks",
    "needs_attention",
)
_TIMELINE = ("created_at", "paid_at", "shipped_at", "cancelled_at")


def _short_datetime(moment: datetime | None) -> SafeString | None:
    """The moment as "2026-12-02 14:05", half as wide as "Dec. 2, 2026, 2:05 p.m.", so the list fits a laptop.

    A narrow column breaks it between the date and the time, never inside the date ("2026-12-" / "02").
    """
    if moment is None:
        return None
    local = localtime(moment)
    return format_html(
        '<span class="nowrap">{}</span> <span class="nowrap">{}</span>',
        date_format(local, "Y-m-d"),
        date_format(local, "H:i"),
    )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    form = OrderStatusForm
    # Short headers and values: every column, "Paid" included, fits beside the filters at 1366 px.
    list_display = ["order", "customer", "status_and_attention", "total_with_currency", "placed", "paid"]
    list_filter = ["status", "needs_attention", "payment_declined", "created_at"]
    search_fields = [
        "=id",
        "user__username",
        "user__email",
        "user__api_partner__name",
        "shipping_name",
        "payment_reference",
    ]
    # A partner's orders belong to its account (``partners.Partner.account``, reverse ``api_partner``).
    list_select_related = ["user__api_partner"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline]
    actions = ["mark_shipped", "cancel_orders", "check_payments"]
    fieldsets = [
        (None, {"fields": ["customer", "status", *_SUMMARY]}),
        ("Shipping address", {"fields": _SHIPPING}),
        ("Payment", {"fields": _PAYMENT}),
        ("Timeline", {"fields": _TIMELINE}),
    ]
    # Everything shown is read-only but the status (changed only through the services, below).
    readonly_fields = ["customer", *_SUMMARY, *_SHIPPING, *_PAYMENT, *_TIMELINE]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """A reference a customer quotes (CS-7K4Q-M2XD, in any case) finds its order on the unique index."""
        reference = search_term.strip().upper()
        if re.fullmatch(ORDER_REFERENCE_PATTERN, reference):
            return queryset.filter(reference=reference), False
        return super().get_search_results(request, queryset, search_term)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        # The change page shows the customer too: fetch the partner with the order there as well.
        return super().get_queryset(request).select_related("user__api_partner")

    @admin.display(description="Order", ordering="pk")
    def order(self, order: Order) -> SafeString:
        """The reference customers know the order by (quote it, search by it); unbroken at its hyphens."""
        return format_html('<span class="nowrap">{}</span>', order.reference)

    @admin.display(description="Customer", ordering="user__username")
    def customer(self, order: Order) -> str:
        """The partner's name for a partner's order: its account's username ("api-partner:1") means nothing to staff."""
        partner = getattr(order.user, "api_partner", None)  # None for a shop customer
        return f"{partner.name} (partner API)" if partner is not None else order.user.get_username()

    @admin.display(description="Status", ordering="status")
    def status_and_attention(self, order: Order) -> SafeString:
        """The status, flagged when staff must look the charge up (a column of its own did not fit)."""
        if order.needs_attention:
            return format_html("{}<br><strong>Needs attention</strong>", order.get_status_display())
        return format_html("{}", order.get_status_display())

    @admin.display(description="Total", ordering="total")
    def total_with_currency(self, order: Order) -> str:
        return f"{order.total} {order.currency}"

    @admin.display(description="Placed", ordering="created_at")
    def placed(self, order: Order) -> SafeString | None:
        return _short_datetime(order.created_at)

    @admin.display(description="Paid", ordering="paid_at")
    def paid(self, order: Order) -> SafeString | None:
        return _short_datetime(order.paid_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders come from checkout

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False  # financial records: cancel instead

    def save_model(self, request: HttpRequest, obj: Order, form: forms.ModelForm, change: bool) -> None:
        """Apply a status change through the services; anything they refuse is reported, not saved."""
        wanted, previous = obj.status, str(form.initial.get("status", ""))
        if wanted == previous:
            return
        obj.status = previous
        changed = False
        if wanted == Order.Status.CANCELLED:
            changed = services.order_cancel(order=obj)
        elif wanted == Order.Status.SHIPPED:
            changed = services.order_mark_shipped(order=obj)
        if not changed:
            messages.error(request, f"{obj} cannot go from “{previous}” to “{wanted}”; its status is unchanged.")

    @admin.action(description="Mark selected paid orders as shipped")
    def mark_shipped(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        shipped = sum(services.order_mark_shipped(order=order) for order in queryset.order_by("pk"))
        skipped = queryset.count() - shipped
        messages.success(request, f"Marked {shipped} order(s) as shipped; {skipped} were not paid and were skipped.")

    @admin.action(description="Cancel selected orders and put their stock back")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        cancelled = sum(services.order_cancel(order=order) for order in queryset.order_by("pk"))
        skipped = queryset.count() - cancelled
        messages.success(
            request, f"Cancelled {cancelled} order(s) and restocked their books; {skipped} could not be cancelled."
        )

    @admin.action(description="Ask the payment provider about selected unsettled orders")
    def check_payments(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        unsettled = queryset.filter(status__in=[Order.Status.PLACED, Order.Status.PENDING]).order_by("pk")
        outcomes = [services.order_reconcile(order=order) for order in unsettled]
        unknown = outcomes.count("unknown") + outcomes.count("flagged")
        messages.success(
            request,
            f"Paid: {outcomes.count('paid')}; cancelled as not charged: {outcomes.count('cancelled')}; "
            f"still unknown: {unknown}; being tried right now: {outcomes.count('busy')}.",
        )
