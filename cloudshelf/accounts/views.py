"""Sign-up. Log in, log out and password reset are Django's own views (see ``urls.py``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from cloudshelf.accounts.forms import SignUpForm

HOME = "catalog:home"


def safe_next_url(request: HttpRequest) -> str | None:
    """The ``next`` URL from the form or query string if it stays on this site, else ``None``."""
    candidate = request.POST.get("next") or request.GET.get("next")
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Create a customer account and log the new customer straight in."""
    if request.user.is_authenticated:
        return redirect(HOME)
    form = SignUpForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to CloudShelf, {user.get_username()}!")
        return redirect(safe_next_url(request) or HOME)
    return render(
        request,
        "registration/signup.html",
        {"form": form, "next": safe_next_url(request) or "", "page_title": "Create an account", "robots": "noindex"},
    )
