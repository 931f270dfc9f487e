"""``/favicon.ico``: browsers and crawlers ask for it on every site, whatever the page links.

Pages (the shop's ``base.html`` and the admin's ``admin/base_site.html``) link the SVG icon in
static; this answers the bare ``/favicon.ico`` with a permanent redirect to it, instead of a 404
that each browser asks again for. The redirect is kept for a day rather than forever: under the
hashed static storage its target changes when the icon does.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

FAVICON_MAX_AGE = 24 * 60 * 60


@require_safe
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Send ``/favicon.ico`` on to the site's icon, cacheable by browsers and CDNs."""
    response = HttpResponsePermanentRedirect(static("favicon.svg"))
    patch_cache_control(response, public=True, max_age=FAVICON_MAX_AGE)
    return response
