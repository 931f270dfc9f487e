"""Customer accounts: sign-up, log-in limits, password reset (Django's ``auth.User``)."""

from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Installed for its migration (one account per e-mail address) and its tasks."""

    name = "cloudshelf.accounts"
    label = "accounts"
    verbose_name = "Accounts"
