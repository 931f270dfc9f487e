# mypy: disallow-subclassing-any=False
# (DRF ships no types, so its Serializer is Any to mypy; as for catalog.serializers in pyproject.toml.)
"""Serializers of the partner API's carts and orders (``cart/api.py``): input validated, answers shaped.

Input serializers use the same rules as the shop's forms (quantities up to
``CART_MAX_QUANTITY_PER_LINE``, address text under ``cart.addresses.address_text_clean``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cart.addresses import address_text_clean
from cart.models import Order
from catalog.serializers import MAX_DATABASE_ID, StrictCharField


class CartCreateSerializer(serializers.Serializer):
    customer_reference = StrictCharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="Your id for the customer."
    )


def _quantity_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=settings.CART_MAX_QUANTITY_PER_LINE, **kwargs)


class CartLineAddSerializer(serializers.Serializer):
    book_id = serializers.IntegerField(min_value=1, max_value=MAX_DATABASE_ID)
    quantity = _quantity_field(default=1)


class CartLineSetSerializer(serializers.Serializer):
    quantity = _quantity_field()


class CartLineSerializer(serializers.Serializer):
    book_id = serializers.IntegerField(source="book.id")
    isbn13 = serializers.CharField(source="book.isbn13")
    title = serializers.CharField(source="book.title")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="Today's price.")
    price_seen = serializers.DecimalField(
        max_digits=10, decimal_places=2, allow_null=True, help_text="The price when the line was last changed."
    )
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)
    stock_on_hand = serializers.IntegerField(source="book.stock_on_hand")
    is_out_of_stock = serializers.BooleanField()
    is_short = serializers.BooleanField(help_text="Fewer in stock than the quantity.")


class CartSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="cart.id")
    customer_reference = serializers.CharField(source="cart.customer_reference")
    created_at = serializers.DateTimeField(source="cart.created_at")
    order_id = serializers.IntegerField(source="cart.order_id", allow_null=True)
    lines = CartLineSerializer(source="contents.items", many=True)
    item_count = serializers.IntegerField(source="contents.count")
    currency = serializers.CharField(source="contents.currency")
    total = serializers.DecimalField(source="contents.total", max_digits=12, decimal_places=2)
    can_order = serializers.BooleanField(source="contents.can_check_out")


class AddressTextField(StrictCharField):
    """Free text for a label, under the checkout form's rule (``cart.addresses.address_text_clean``)."""

    def to_internal_value(self, data: Any) -> str:
        return address_text_clean(super().to_internal_value(data))


class ShippingAddressSerializer(serializers.Serializer):
    name = AddressTextField(max_length=200)
    line1 = AddressTextField(max_length=200)
    line2 = AddressTextField(max_length=200, required=False, allow_blank=True, default="")
    city = AddressTextField(max_length=100)
    region = AddressTextField(max_length=100, required=False, allow_blank=True, default="")
    postal_code = AddressTextField(max_length=20)
    country = serializers.RegexField(r"^[A-Z]{2}\Z", help_text="ISO 3166-1 alpha-2, e.g. `GB`.")


class OrderCreateSerializer(serializers.Serializer):
    shipping_address = ShippingAddressSerializer()
    expected_total = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text="The total you showed your customer; if prices moved since, the order is refused (409).",
    )


class OrderLineSerializer(serializers.Serializer):
    book_id = serializers.IntegerField(allow_null=True)
    isbn13 = serializers.CharField()
    title = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderShippingSerializer(serializers.Serializer):
    name = serializers.CharField(source="shipping_name")
    line1 = serializers.CharField(source="shipping_line1")
    line2 = serializers.CharField(source="shipping_line2")
    city = serializers.CharField(source="shipping_city")
    region = serializers.CharField(source="shipping_region")
    postal_code = serializers.CharField(source="shipping_postal_code")
    country = serializers.CharField(source="shipping_country")


class OrderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Order.Status.choices)
    cart_id = serializers.SerializerMethodField()
    customer_reference = serializers.SerializerMethodField()
    currency = serializers.CharField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    lines = OrderLineSerializer(source="lines.all", many=True)
    shipping_address = OrderShippingSerializer(source="*")
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_cart_id(self, order: Order) -> str | None:
        cart = getattr(order, "partner_cart", None)
        return str(cart.pk) if cart is not None else None

    @extend_schema_field(OpenApiTypes.STR)
    def get_customer_reference(self, order: Order) -> str:
        cart = getattr(order, "partner_cart", None)
        return cart.customer_reference if cart is not None else ""
