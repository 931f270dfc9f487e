"""Customer accounts, mounted at ``/accounts/``.

URL names are not namespaced because Django's auth views reverse them by bare name
(``password_reset_done``, ``password_reset_confirm``…) and ``LOGIN_URL`` is ``"login"``.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from cloudshelf.accounts import views

# Account pages are for people, not search engines.
_PRIVATE = {"robots": "noindex"}

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, extra_context=_PRIVATE | {"page_title": "Log in"}
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        auth_views.PasswordResetView.as_view(
            email_template_name="registration/password_reset_email.txt",
            extra_context=_PRIVATE | {"page_title": "Reset your password"},
        ),
        name="password_reset",
    ),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(extra_context=_PRIVATE | {"page_title": "Check your e-mail"}),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(extra_context=_PRIVATE | {"page_title": "Choose a new password"}),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(extra_context=_PRIVATE | {"page_title": "Password changed"}),
        name="password_reset_complete",
    ),
]
