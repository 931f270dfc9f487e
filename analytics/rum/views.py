"""``POST /rum``: the beacon endpoint that static/js/rum.js sends to.

Anonymous and CSRF-exempt (``navigator.sendBeacon`` cannot carry a token), so it is guarded
otherwise: only our own pages may post (``Sec-Fetch-Site`` / ``Origin``), every client
address has a budget (``RUM_BEACONS_PER_ADDRESS_MINUTE``), the body is bounded before it is
read, and what it says is validated whole (``analytics.rum.beacons``). It answers ``204``
and exposes nothing; every refusal is a JSON ``{"code", "message"}`` and keeps nothing.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from analytics.rum.beacons import MAX_BEACON_BYTES, BeaconError, parse_body, validate
from analytics.rum.services import rum_beacon_record
from cloudshelf.db_router import never_pins
from cloudshelf.edge.http import is_same_origin
from cloudshelf.ratelimit import SiteLimit, limit_requests

logger = logging.getLogger(__name__)

BEACONS = SiteLimit(name="rum", setting="RUM_BEACONS_PER_ADDRESS_MINUTE", window_seconds=60)
# sendBeacon sends a string as text/plain (no CORS preflight); JSON clients may say so.
ACCEPTED_TYPES = ("text/plain", "application/json")


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse({"code": code, "message": message}, status=status)
    add_never_cache_headers(response)
    return response


def _read_bounded(request: HttpRequest) -> bytes | None:
    """The body, or None when it is (or claims to be) over ``MAX_BEACON_BYTES``: at most one byte more is read."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if declared > MAX_BEACON_BYTES:
        return None
    body = request.read(MAX_BEACON_BYTES + 1)
    return None if len(body) > MAX_BEACON_BYTES else body


@never_pins  # the visitor reads none of it back: their next page stays on the replica
@limit_requests(BEACONS, as_json=True)
@csrf_exempt
@require_POST
def beacon(request: HttpRequest) -> HttpResponse:
    """Validate one beacon and keep it (buffered); 204, or 4xx with the reason and nothing kept."""
    if not is_same_origin(request):
        return _refuse(403, "cross_site", "Beacons are accepted from this site's own pages only.")
    if request.content_type not in ACCEPTED_TYPES:
        return _refuse(415, "unsupported_media_type", "Send the beacon as text/plain or application/json.")
    body = _read_bounded(request)
    if body is None:
        return _refuse(413, "too_large", f"A beacon is at most {MAX_BEACON_BYTES} bytes.")
    try:
        validated = validate(parse_body(body))
    except BeaconError as error:
        return _refuse(400, error.code, error.message)
    rum_beacon_record(beacon=validated)
    response = HttpResponse(status=204)
    add_never_cache_headers(response)
    return response
