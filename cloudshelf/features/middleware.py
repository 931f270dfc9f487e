"""Counts every request in and out for load shedding, and says on the response when it sheds."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

from cloudshelf.features.shedding import monitor, queued_seconds


class LoadSheddingMiddleware:
    """Near the top of ``MIDDLEWARE``: its in-flight count covers nearly the whole request.

    Answers carry ``X-Load-Shedding: on`` while features are shed, so load tests and
    operators can tell a lighter page from a broken one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        monitor.request_started(queued=queued_seconds(request, now=monitor.clock()))
        try:
            # Asked before the page cache looks: the first request after shedding ends retires
            # the lighter pages (shedding.SHED_TAG) before it could be answered with one.
            is_shedding = monitor.is_shedding()
            response = self.get_response(request)
        finally:
            monitor.request_finished()
        if is_shedding:
            response["X-Load-Shedding"] = "on"
        return response
