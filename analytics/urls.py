"""Analytics' endpoints at the site's root: ``POST /rum``, the real-user monitoring beacon."""

from __future__ import annotations

from django.urls import path

from analytics.rum import views as rum_views

app_name = "analytics"
urlpatterns = [
    path("rum", rum_views.beacon, name="rum"),
]
