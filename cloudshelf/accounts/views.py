"""Sign-up, log-in and password reset, each behind its abuse limits.

Log in and password reset are Django's own views with the limits added (see ``urls.py``).

Login limits (ASVS 2.2.1): at most ``LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES`` failed
logins per account in any 15 minutes and ``LOGIN_FAILURES_PER_ACCOUNT_HOUR`` in any hour,
counted by exact sliding windows, and ``LOGIN_ATTEMPTS_PER_ADDRESS_HOUR`` attempts per
client address. Each attempt reserves its slot *before* the password is checked, so
concurrent guesses cannot overrun the count; a successful one gives its own slot back.
A successful login does **not** clear the failures already counted: otherwise an attacker
who also knows one password of theirs (or the owner, logging in between guesses) would
reset the count for the guessing to go on. The cost is that the owner of an account under
attack may be refused for up to 15 minutes; the 429 page says to wait, and the password
reset (limited on its own) stays open.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from cloudshelf.accounts.forms import QueuedPasswordResetForm, SignUpForm
from cloudshelf.http import safe_next_url
from cloudshelf.ratelimit import (
    SiteLimit,
    Window,
    WindowDecision,
    limit_requests,
    site_limits_enabled,
    too_many_requests,
    window_release,
    window_reserve,
)

HOME = "catalog:home"

LOGIN_BY_ADDRESS = SiteLimit(name="login", setting="LOGIN_ATTEMPTS_PER_ADDRESS_HOUR", window_seconds=60 * 60)
SIGNUP_BY_ADDRESS = SiteLimit(name="signup", setting="SIGNUPS_PER_ADDRESS_HOUR", window_seconds=60 * 60)
RESET_BY_ADDRESS = SiteLimit(name="reset", setting="PASSWORD_RESETS_PER_ADDRESS_HOUR", window_seconds=60 * 60)
RESET_BY_EMAIL = SiteLimit(name="reset-email", setting="PASSWORD_RESETS_PER_EMAIL_HOUR", window_seconds=60 * 60)


def identity_subject(kind: str, value: str) -> str:
    """A bucket subject for a user-typed identity (username, e-mail): one spelling, fixed length.

    Case-folded and NFKC-normalised, so "ALICE" and "alice" share a count (erring towards
    limiting), and hashed, so a 10,000-character username makes a short key.
    """
    folded = unicodedata.normalize("NFKC", value).strip().casefold()
    return f"{kind}:{hashlib.sha256(folded.encode()).hexdigest()[:32]}"


def login_failure_windows() -> list[Window]:
    """The per-account windows of failed logins (none when the site's limits are off)."""
    if not site_limits_enabled():
        return []
    return [
        Window(limit=settings.LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES, seconds=15 * 60),
        Window(limit=settings.LOGIN_FAILURES_PER_ACCOUNT_HOUR, seconds=60 * 60),
    ]


class LimitedLoginView(auth_views.LoginView):
    """Django's login, refused with a 429 (before any password is checked) when the account's failures are spent."""

    reservation: WindowDecision | None = None
    account_bucket = ""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = str(request.POST.get("username", ""))
        if username.strip():
            self.account_bucket = "login-failures:" + identity_subject("account", username)
            self.reservation = window_reserve(bucket=self.account_bucket, windows=login_failure_windows())
            if self.reservation is not None and not self.reservation.is_allowed:
                return too_many_requests(request, retry_after_seconds=self.reservation.retry_after_seconds)
        return super().post(request, *args, **kwargs)

    def _give_back_the_slot(self) -> None:
        if self.reservation is not None:
            window_release(bucket=self.account_bucket, token=self.reservation.token)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        self._give_back_the_slot()  # the password was right: not a failure
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # Only a wrong password is a failure; a missing field or an inactive account
        # (right password) did not test a guess.
        if not form.has_error("__all__", "invalid_login"):
            self._give_back_the_slot()
        return super().form_invalid(form)


class LimitedPasswordResetView(auth_views.PasswordResetView):
    """Django's reset page with a limit per target e-mail (the per-address limit wraps the view).

    The e-mail limit counts addresses with and without an account alike, so a 429 tells
    nothing about who has one. A refused request queues no mail.
    """

    form_class = QueuedPasswordResetForm

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        decision = RESET_BY_EMAIL.hit(identity_subject("email", form.cleaned_data["email"]))
        if decision is not None and not decision.is_allowed:
            return too_many_requests(self.request, retry_after_seconds=decision.retry_after_seconds)
        return super().form_valid(form)


@limit_requests(SIGNUP_BY_ADDRESS)
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create a customer account and log the new customer straight in.

    A taken e-mail address (seen by the form, or by the database when two sign-ups race)
    gets one generic form error that does not say the address has an account.
    """
    if request.user.is_authenticated:
        return redirect(HOME)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and (user := form.save_or_refuse()) is not None:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to CloudShelf, {user.get_username()}!")
        return redirect(safe_next_url(request) or HOME)
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": safe_next_url(request) or "", "page_title": "Create an account", "robots": "noindex"},
    )
