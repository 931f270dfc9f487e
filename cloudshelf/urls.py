"""Top-level URLs. Each app owns its own ``urls.py``; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

from cloudshelf import health

urlpatterns = [
    path("health", health.liveness, name="health"),
    path("health/ready", health.readiness, name="health-ready"),
    path("admin/", admin.site.urls),
    path("accounts/", include("cloudshelf.accounts.urls")),
    path("api/", include("cloudshelf.api.urls")),
    path("", include("cart.urls")),
    path("", include("catalog.urls")),
    path("", include("search.urls")),
]

handler404 = "cloudshelf.errors.page_not_found"
handler500 = "cloudshelf.errors.server_error"
