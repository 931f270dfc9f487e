"""Checkout forms: the shipping address and the "place order" step (card and idempotency key)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils import timezone

from cart.addresses import SHIPPING_COUNTRIES, ShippingAddress, address_text_clean
from cart.payments import CardDetails, luhn_is_valid


class _AddressField(forms.CharField):
    """Free text for a label: the rule the partner API applies too (``address_text_clean``)."""

    def clean(self, value: Any) -> str:
        return address_text_clean(str(super().clean(value)))


class ShippingAddressForm(forms.Form):
    name = _AddressField(label="Full name", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"}))
    line1 = _AddressField(
        label="Address", max_length=200, widget=forms.TextInput(attrs={"autocomplete": "address-line1"})
    )
    line2 = _AddressField(
        label="Apartment, suite, etc. (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = _AddressField(label="City", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"}))
    region = _AddressField(
        label="State, county or region (optional)",
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level1"}),
    )
    postal_code = _AddressField(
        label="Postal code", max_length=20, widget=forms.TextInput(attrs={"autocomplete": "postal-code"})
    )
    country = forms.ChoiceField(
        label="Country", choices=SHIPPING_COUNTRIES, widget=forms.Select(attrs={"autocomplete": "country"})
    )

    def address(self) -> ShippingAddress:
        return ShippingAddress(**self.cleaned_data)


class _CardInput(forms.TextInput):
    """A card field that writes the submitted value back into the page only when ``render_value``
    is set, which ``PlaceOrderForm`` does for a field the customer got right."""

    render_value = False

    def format_value(self, value: Any) -> str | None:
        return super().format_value(value) if self.render_value else None


class PlaceOrderForm(forms.Form):
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)
    expected_total = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, widget=forms.HiddenInput)
    card_number = forms.CharField(
        label="Card number",
        max_length=30,
        widget=_CardInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "placeholder": "4242 4242 4242 4242"}
        ),
    )
    card_expiry = forms.CharField(
        label="Expiry (MM/YY)",
        max_length=7,
        widget=_CardInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}),
    )
    card_cvc = forms.CharField(
        label="Security code",
        max_length=4,
        widget=_CardInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "123"}),
    )

    # Shown again with what was typed when another field has the error, so a typo in the expiry
    # does not mean typing the number again. The value goes back only into this response (the
    # view keeps no card data: not in the session, a log or the database). Never the security
    # code: PCI DSS forbids keeping it past the authorisation, and checkouts conventionally
    # ask for it again after any error, so it is always typed afresh.
    KEPT_CARD_FIELDS = ("card_number", "card_expiry")

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.KEPT_CARD_FIELDS:
            widget = self.fields[name].widget
            assert isinstance(widget, _CardInput)
            widget.render_value = self.is_bound and name not in self.errors

    def clean_card_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["card_number"])
        if not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19 and luhn_is_valid(number)):
            raise forms.ValidationError("Enter a valid card number.")
        return number

    def clean_card_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["card_expiry"])
        if not match:
            raise forms.ValidationError("Enter the expiry date as MM/YY.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if not 1 <= month <= 12:
            raise forms.ValidationError("Enter the expiry date as MM/YY.")
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return month, year

    def clean_card_cvc(self) -> str:
        cvc: str = self.cleaned_data["card_cvc"].strip()
        if not (cvc.isascii() and cvc.isdigit() and 3 <= len(cvc) <= 4):
            raise forms.ValidationError("Enter the 3 or 4 digits on the card.")
        return cvc

    def clean(self) -> dict[str, Any]:
        # The hidden fields are not shown with errors of their own: a bad value means the page
        # was tampered with or is stale, which the customer can only fix by reviewing again.
        if {"idempotency_key", "expected_total"} & set(self.errors):
            raise forms.ValidationError("This page is out of date. Please check your order and place it again.")
        return self.cleaned_data

    def card(self) -> CardDetails:
        month, year = self.cleaned_data["card_expiry"]
        return CardDetails(
            number=self.cleaned_data["card_number"],
            expiry_month=month,
            expiry_year=year,
            cvc=self.cleaned_data["card_cvc"],
        )
