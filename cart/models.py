"""Orders: what a checkout creates. Carts are not models; they live in Redis (``cart.store``).

An order keeps everything it needs to be read years later — titles, ISBNs and prices are
copied onto its lines at the moment it was placed — and no card data beyond the last four
digits and the payment provider's reference.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from cart.addresses import ShippingAddress, address_lines
from catalog.models import Book

# The characters of an order reference: digits and capitals without the look-alikes 0/O and
# 1/I/L (read aloud or copied from a screen) or U (fewer accidental words).
ORDER_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
# What one looks like, e.g. "CS-7K4Q-M2XD" (for the order page's URL).
ORDER_REFERENCE_PATTERN = f"CS-[{ORDER_REFERENCE_ALPHABET}]{{4}}-[{ORDER_REFERENCE_ALPHABET}]{{4}}"


def order_reference_new() -> str:
    """A fresh random order reference such as ``CS-7K4Q-M2XD``.

    Customers see this, never the database id: ids are shared with every declined payment
    (cancelled orders nobody is shown), so a customer's own ids would jump, and they tell
    anyone how many orders the shop takes. Eight characters of 30 are about 6.6 x 10^11
    references, so a clash is rare; the unique index refuses one and ``order_place`` draws again.
    """
    body = "".join(secrets.choice(ORDER_REFERENCE_ALPHABET) for _ in range(8))
    return f"CS-{body[:4]}-{body[4:]}"


class Order(models.Model):
    class Status(models.TextChoices):
        # Stock is reserved and the order exists; no payment has been tried yet.
        PLACED = "placed", "Placed"
        # A charge is in flight, or it had no answer (timeout, provider error): money may have
        # moved. Settled by a retry with the same idempotency key or by orders_reconcile_pending.
        PENDING = "pending", "Payment being confirmed"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    # PROTECT: an order is a financial record; a customer with orders is deactivated, not deleted.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="orders", on_delete=models.PROTECT)
    # What the customer knows the order by, on every page and message of theirs and in its URL.
    reference = models.CharField(max_length=12, unique=True, default=order_reference_new, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLACED)
    # Generated when the review page renders and sent back with "Place order": a retried or
    # double-clicked submit finds this order instead of creating a second one.
    idempotency_key = models.UUIDField(editable=False)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    shipping_name = models.CharField("full name", max_length=200)
    shipping_line1 = models.CharField("address", max_length=200)
    shipping_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    shipping_city = models.CharField("city", max_length=100)
    shipping_region = models.CharField("state, county or region", max_length=100, blank=True)
    shipping_postal_code = models.CharField("postal code", max_length=20)
    shipping_country = models.CharField("country", max_length=2)

    payment_provider = models.CharField(max_length=50, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # Set when the provider refused the card (or confirmed it never charged it): the order was
    # cancelled before it was ever paid.
    payment_declined = models.BooleanField(default=False)
    payment_message = models.CharField(max_length=200, blank=True)
    # The payment claim (cart.services): each try to charge or look up the payment first bumps
    # ``payment_attempts`` with a conditional UPDATE, so of two concurrent tries exactly one
    # goes ahead; ``payment_claimed_until`` bounds how long its network call may be in flight.
    payment_attempts = models.PositiveIntegerField(default=0, editable=False)
    payment_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    # Lookups that could not tell whether a pending order was charged; past
    # CART_PAYMENT_RECONCILE_MAX_CHECKS the order is flagged for staff (``needs_attention``).
    payment_checks = models.PositiveIntegerField(default=0, editable=False)
    needs_attention = models.BooleanField(default=False)
    # The Redis key of the cart this order came from, to take its lines out when a pending
    # payment is found paid later (cart.store.CartRef.key).
    cart_key = models.CharField(max_length=200, blank=True, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="order_one_per_idempotency_key"),
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
        ]
        indexes = [
            models.Index(F("user"), F("created_at").desc(), F("id").desc(), name="order_by_customer_newest"),
            # The few unsettled orders the reconciliation and abandoned-order jobs look for.
            models.Index(fields=["created_at"], condition=Q(status__in=["placed", "pending"]), name="order_unsettled"),
            # Sales reports (analytics.reports): sold orders by the moment they were paid.
            models.Index(fields=["paid_at"], condition=Q(status__in=["paid", "shipped"]), name="order_sold_by_paid_at"),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("cart:order", kwargs={"reference": self.reference})

    @property
    def is_cancellable(self) -> bool:
        return self.status in (self.Status.PLACED, self.Status.PENDING, self.Status.PAID)

    @property
    def is_payment_pending(self) -> bool:
        """The customer has been told the payment is being confirmed."""
        return self.status == self.Status.PENDING

    @property
    def shipping_address(self) -> ShippingAddress:
        return ShippingAddress(
            name=self.shipping_name,
            line1=self.shipping_line1,
            line2=self.shipping_line2,
            city=self.shipping_city,
            region=self.shipping_region,
            postal_code=self.shipping_postal_code,
            country=self.shipping_country,
        )

    @property
    def shipping_lines(self) -> list[str]:
        """The address as printed on a label, one line each (``cart.addresses.address_lines``)."""
        return address_lines(self.shipping_address)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    # SET_NULL: the catalog may drop a book; the order still says what was bought.
    book = models.ForeignKey(Book, null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    title = models.CharField(max_length=300)
    isbn13 = models.CharField("ISBN-13", max_length=13)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.UniqueConstraint(fields=["order", "book"], name="order_line_one_per_book"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity
