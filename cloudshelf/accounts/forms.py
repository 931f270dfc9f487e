"""Account forms: Django's own, plus the e-mail address a password reset needs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from cloudshelf.accounts.services import email_in_use

# One answer for a taken e-mail address, whether the form saw it or the database did:
# saying "an account with this address exists" would tell anyone who has an account.
SIGN_UP_REFUSED = (
    "We could not create an account with these details. If you already have an account, "
    "log in or reset your password; otherwise try another e-mail address."
)


class SignUpForm(UserCreationForm):
    """Django's sign-up form with a required e-mail address, unique whatever its case.

    Unique because the password reset form finds accounts by e-mail: two accounts on one
    address would both receive the reset link. The form checks first (a clear answer
    without a failed insert); the database's unique index on ``lower(email)`` decides when
    two sign-ups race (``save`` turns that into the same form error).
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
        email = str(self.cleaned_data["email"]).strip()
        if email_in_use(email):
            raise forms.ValidationError(SIGN_UP_REFUSED, code="refused")
        return email

    def save_or_refuse(self) -> User | None:
        """Create the account, or ``None`` (and the form error) when a concurrent sign-up took the address."""
        try:
            with transaction.atomic():  # a savepoint: the failed insert must not poison the request's transaction
                user: User = self.save()
                return user
        except IntegrityError:
            if not email_in_use(self.cleaned_data["email"]):
                raise  # some other constraint: not ours to explain
            self.add_error("email", forms.ValidationError(SIGN_UP_REFUSED, code="refused"))
            return None


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's reset form whose mail is sent by a Celery task, off the request path.

    The request neither looks the address up nor talks to the mail server, so the page
    answers the same, in the same time, whether or not the address has an account, and
    a slow mail server never holds a gunicorn thread.
    """

    def save(  # type: ignore[override]
        self,
        domain_override: str | None = None,
        use_https: bool = False,
        request: HttpRequest | None = None,
        **options: Any,
    ) -> None:
        from cloudshelf.accounts.tasks import password_reset_queue

        domain = domain_override or (request.get_host() if request is not None else "")
        password_reset_queue(email=self.cleaned_data["email"], domain=domain, use_https=use_https)
