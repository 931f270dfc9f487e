"""``/metrics``: the fleet's totals in Prometheus text format, for staff and the scraper only."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from analytics.access import can_view_reports
from analytics.metrics.prometheus import registry_of
from analytics.metrics.store import read_totals


def may_read_metrics(request: HttpRequest) -> bool:
    """Staff allowed the reports (the same figures), or ``Authorization: Bearer <METRICS_TOKEN>``
    (constant-time; an empty token admits only those staff)."""
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return user is not None and can_view_reports(user)


# Exempt: it changes nothing, and a CSRF 403 to strangers would reveal that the URL exists.
@csrf_exempt
def metrics(request: HttpRequest) -> HttpResponse:
    """Everyone else gets the site's 404, whatever the method: the endpoint's existence is not revealed."""
    if not may_read_metrics(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse(generate_latest(registry_of(read_totals())), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "private, no-store"  # nginx and CloudFront keep nothing that says so
    return response
