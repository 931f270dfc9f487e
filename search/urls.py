"""Search pages: results at /search/ and the header box's autocomplete."""

from __future__ import annotations

from django.urls import path

from search import views

app_name = "search"
urlpatterns = [
    path("search/", views.results, name="results"),
    path("search/autocomplete", views.autocomplete, name="autocomplete"),
]
