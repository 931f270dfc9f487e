"""Top-level URLs. Each app owns its own ``urls.py``; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

from cloudshelf import favicon, health
from cloudshelf.edge.media import media_urlpatterns

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("favicon.ico", favicon.favicon, name="favicon"),
    # Staff reports (analytics): before the admin, whose catch-all would answer /admin/reports/ with a 404.
    path("admin/reports/", include("analytics.admin_reports.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("cloudshelf.accounts.urls")),
    path("api/", include("cloudshelf.api.urls")),
    path("", include("analytics.metrics.urls")),  # /metrics (Prometheus), staff and scrapers only
    path("", include("analytics.urls")),  # /rum: real-user monitoring beacons
    *media_urlpatterns(),  # uploaded covers at MEDIA_URL, unless media is on S3
    path("", include("cart.urls")),
    path("", include("catalog.urls")),
    path("", include("search.urls")),
]

handler400 = "cloudshelf.errors.bad_request"
handler403 = "cloudshelf.errors.permission_denied"
handler404 = "cloudshelf.errors.page_not_found"
handler500 = "cloudshelf.errors.server_error"
