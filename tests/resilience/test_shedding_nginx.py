"""nginx stamps every request with the time it arrived, which Django reads as queueing time."""

from __future__ import annotations

import threading
import time

import pytest
from django.test import RequestFactory

from cloudshelf.features.shedding import queued_seconds
from tests.edge.conftest import running_http_cache
from tests.edge.test_http_cache import ScriptedOrigin

pytestmark = pytest.mark.slow


def test_nginx_sends_the_arrival_time_that_django_reads_as_queueing_time(settings):
    settings.LOAD_SHED_TRUST_REQUEST_START = True
    origin = ScriptedOrigin()
    thread = threading.Thread(target=origin.serve_forever, daemon=True)
    thread.start()
    try:
        with running_http_cache(origin.bind) as cache:
            before = time.time()
            cache.get("/anything", {"X-Request-Start": "t=1"})  # a client's own value is replaced
            after = time.time()
    finally:
        origin.shutdown()
        origin.server_close()

    stamp = origin.last_headers["X-Request-Start"]
    assert stamp.startswith("t=")
    assert before - 0.01 <= float(stamp.removeprefix("t=")) <= after + 0.01
    request = RequestFactory().get("/", HTTP_X_REQUEST_START=stamp)
    assert 0.0 < queued_seconds(request, now=after + 0.5) <= 0.5 + (after - before) + 0.01
