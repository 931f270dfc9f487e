"""Who sent a request: the client's IP address, behind any number of trusted proxies.

Behind a load balancer ``REMOTE_ADDR`` is the balancer's address, so every visitor would
share one rate-limit bucket. Each proxy appends the address it received the request from
to ``X-Forwarded-For``; with ``TRUSTED_PROXY_COUNT = N`` proxies of ours in front of
Django, the N-th entry from the right was written by our outermost proxy and is the
client. Everything left of it was sent by the client and may be forged, so it is never
read. With N = 0 (the default: Django serves clients directly) the header is ignored.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

UNKNOWN_ADDRESS = "unknown"


def normalise_address(raw: str) -> str | None:
    """``raw`` as a canonical IP address string, or ``None`` when it is not one.

    Accepts the forms proxies write: ``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``,
    an IPv6 zone (``fe80::1%eth0``, dropped). IPv6 is compressed and lower-cased and an
    IPv4-mapped IPv6 address becomes its IPv4 address, so one client has one spelling.
    """
    value = raw.strip()
    if value.startswith("["):  # [v6] or [v6]:port
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # v4:port (a bare IPv6 address has at least two colons)
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_address(request: HttpRequest) -> str:
    """The IP address of the client that sent ``request`` (``"unknown"`` if there is none).

    Reads ``X-Forwarded-For`` only through ``settings.TRUSTED_PROXY_COUNT`` proxies. A header
    shorter than that, or whose entry there is not an IP address, means the request did not
    come through our proxies as configured: the direct peer (``REMOTE_ADDR``) is used then,
    which is never a value the client chose.
    """
    peer = normalise_address(str(request.META.get("REMOTE_ADDR") or "")) or UNKNOWN_ADDRESS
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if trusted <= 0:
        return peer
    header = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    # rsplit bounded by the proxy count: a huge forged header costs no more than a short one.
    hops = header.rsplit(",", trusted)
    if not header.strip() or len(hops) < trusted:
        return peer
    address = normalise_address(hops[-trusted])
    if address is None:
        logger.warning("X-Forwarded-For entry %d from the right is not an address; using the peer", trusted)
        return peer
    return address
