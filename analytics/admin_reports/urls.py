"""``/admin/reports/``: mounted by ``cloudshelf/urls.py`` (as a string) before the admin's own URLs."""

from __future__ import annotations

from django.urls import path

from analytics.admin_reports import views

app_name = "admin_reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("performance/", views.performance, name="performance"),
    path("performance/export.csv", views.performance_export, name="performance-export"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/<slug:section_key>.csv", views.export, name="export"),
]
