"""Template context shared by every page."""

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str | int]:
    """Expose the site name, the absolute base URL used for canonical and Open Graph links,
    and the longest search the server reads (the header search box's ``maxlength``)."""
    return {
        "SITE_NAME": settings.SITE_NAME,
        "SITE_URL": settings.SITE_URL,
        "SEARCH_MAX_QUERY_LENGTH": settings.SEARCH_MAX_QUERY_LENGTH,
    }
