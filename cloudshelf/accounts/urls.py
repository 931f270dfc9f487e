"""Customer accounts, mounted at ``/accounts/``.

Log in, sign-up and password reset are rate-limited per client address (``limit_requests``)
and per account or e-mail (in the views). URL names are not namespaced because Django's
auth views reverse them by bare name (``password_reset_done``, ``password_reset_confirm``…)
and ``LOGIN_URL`` is ``"login"``.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from cloudshelf.accounts import views
from cloudshelf.ratelimit import limit_requests

# Account pages are for people, not search engines.
_PRIVATE = {"robots": "noindex"}

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path(
        "login/",
        limit_requests(views.LOGIN_BY_ADDRESS)(
            views.LimitedLoginView.as_view(
                redirect_authenticated_user=True, extra_context=_PRIVATE | {"page_title": "Log in"}
            )
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password-reset/",
        limit_requests(views.RESET_BY_ADDRESS)(
            views.LimitedPasswordResetView.as_view(extra_context=_PRIVATE | {"page_title": "Reset your password"})
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
