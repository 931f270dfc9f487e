"""Account forms: Django's own, plus the e-mail address a password reset needs."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignUpForm(UserCreationForm):
    """Django's sign-up form with a required, unique e-mail address.

    Unique (case-insensitively) because the password reset form finds accounts by
    e-mail: two accounts on one address would both receive the reset link.
    """

    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        help_text="Only used to reset your password. We never share it.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model()._default_manager.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this e-mail address already exists. Try logging in.")
        return email
