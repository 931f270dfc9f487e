"""``/metrics``, mounted by ``cloudshelf/urls.py`` through a string include: cloudshelf imports no analytics."""

from django.urls import path

from analytics.metrics import views

app_name = "metrics"

urlpatterns = [path("metrics", views.metrics, name="prometheus")]
