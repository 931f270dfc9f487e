"""A URLconf with one view that raises, for the 5xx accounting test."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view fell over")


urlpatterns = [path("broken", broken, name="broken")]
handler500 = "cloudshelf.errors.server_error"
