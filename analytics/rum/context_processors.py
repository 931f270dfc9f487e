"""What the RUM script tag in base.html needs: the page's route name and the sampling rate.

Both are the same for every visitor of a page (pages are kept whole by the page cache and
nginx), so the tag carries nothing personal: the route names the kind of page, not its URL.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from analytics.rum.routes import page_routes


def rum(request: HttpRequest) -> dict[str, str]:
    """``rum_route`` (empty on a page that sends no beacon) and ``rum_sample_rate`` (a plain decimal string)."""
    match = getattr(request, "resolver_match", None)
    name = match.view_name if match is not None else ""
    return {
        "rum_route": name if name in page_routes() else "",
        "rum_sample_rate": format(float(settings.RUM_SAMPLE_RATE), "g"),
    }
