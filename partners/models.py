"""Partners and their API keys.

A key is shown to the partner once, when it is issued; only its SHA-256 hash is stored.
Keys are 256 bits of randomness, so a plain hash is as good as a slow password hash here
(nobody can guess a preimage) and lets every request find its key with one indexed
lookup. The short ``prefix`` (``cs_live_ab12cd34``) is kept in clear so a key can be
named in logs, in the admin and in a support conversation without revealing it.

The tables keep the names they had when these models lived in ``cloudshelf.api``
(``api_partner``, ``api_apikey``, ``api_partnercart``): the move was a change of Django
state only, so existing databases kept their rows untouched.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from partners.plans import PLAN_LIMITS, Plan, RateLimit


class Partner(models.Model):
    """A third party (affiliate site, library, reseller) that integrates through the API."""

    name = models.CharField(max_length=200, unique=True)
    contact_email = models.EmailField(blank=True)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.STARTER)
    # A bespoke contract overrides the plan's bucket; both or neither must be set.
    custom_rate_per_second = models.DecimalField(
        max_digits=9,
        decimal_places=3,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.001"))],
        help_text="Overrides the plan's sustained rate (requests per second).",
    )
    custom_burst = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Overrides the plan's burst size."
    )
    is_active = models.BooleanField(default=True, help_text="Suspended partners get 403 on every call.")
    notes = models.TextField(blank=True)
    # The user that owns the partner's orders (``cart.Order.user``), made on the first order.
    # It cannot log in: it is inactive, has no usable password, and its name has a colon,
    # which sign-up refuses, so no customer can ever hold it.
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        related_name="api_partner",
        on_delete=models.PROTECT,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_partner"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(custom_rate_per_second__isnull=True, custom_burst__isnull=True)
                | Q(custom_rate_per_second__isnull=False, custom_burst__isnull=False),
                name="partner_custom_limit_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rate_limit(self) -> RateLimit:
        """The partner's bucket: the custom contract when there is one, else the plan's."""
        if self.custom_rate_per_second is not None and self.custom_burst is not None:
            return RateLimit(rate=float(self.custom_rate_per_second), burst=self.custom_burst)
        return PLAN_LIMITS[self.plan]


class ApiKey(models.Model):
    """One credential of a partner. Issued and revoked through ``partners.services``."""

    partner = models.ForeignKey(Partner, related_name="api_keys", on_delete=models.CASCADE)
    name = models.CharField(max_length=100, help_text="What the partner uses this key for, e.g. 'production'.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    can_write = models.BooleanField(
        default=True, help_text="Read-only keys may browse the catalog but not create carts or orders."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        db_table = "api_apikey"
        ordering = ["partner", "-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix} ({self.name})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class PartnerCart(models.Model):
    """A cart a partner opened for one of its customers.

    The lines live in the cart store (Redis) under a key that includes the partner, like
    every other cart; this row records that the cart exists, whose it is and which order
    it became. Ids are random UUIDs, and every lookup also filters on the partner, so
    another partner's cart answers 404 whether its id was guessed or stolen.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, related_name="carts", on_delete=models.CASCADE)
    customer_reference = models.CharField(
        max_length=100, blank=True, help_text="The partner's own id for the customer, echoed back on the order."
    )
    order = models.OneToOneField(
        "cart.Order", null=True, blank=True, related_name="partner_cart", on_delete=models.PROTECT
    )
    # The partner's Idempotency-Key the order was placed with, as sent.
    order_idempotency_key = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "api_partnercart"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["partner", "-created_at"], name="partner_cart_by_partner")]

    def __str__(self) -> str:
        return f"cart {self.pk} of {self.partner_id}"
