"""Cache headers for API answers that are the same for every partner."""

from __future__ import annotations

from django.conf import settings
from django.utils.cache import patch_cache_control
from rest_framework.response import Response


def public(response: Response, *, max_age: int | None = None) -> Response:
    """Mark an answer cacheable by browsers and CDNs (it is the same for every partner).

    ``max_age`` defaults to ``settings.API_CACHE_MAX_AGE``; a stale copy may be served
    for as long again while a fresh one is fetched.
    """
    age = settings.API_CACHE_MAX_AGE if max_age is None else max_age
    patch_cache_control(response, public=True, max_age=age, stale_while_revalidate=age)
    return response
