"""Small HTTP helpers any app's views may use; this module imports no app."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next_url(request: HttpRequest) -> str | None:
    """The ``next`` URL from the form or query string if it is a path on this site, else ``None``.

    Only paths (``/cart/``): a bare word such as ``cart`` would pass the host check, and
    ``redirect()`` would then try it as a URL name and raise.
    """
    candidate = request.POST.get("next") or request.GET.get("next")
    if (
        candidate
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return None
