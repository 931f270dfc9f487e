"""Fixtures of the real-user monitoring tests: beacons posted as a browser on our page would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django_redis import get_redis_connection

from analytics import buffer

SHOPPER = "198.51.100.23"
# A sampled beacon of the home page, as static/js/rum.js builds it.
HOME_BEACON: dict[str, Any] = {
    "route": "catalog:home",
    "ttfb": 81.2,
    "dom_ready": 420.5,
    "load": 655.0,
    "lcp": 702.3,
    "inp": 48.0,
    "cls": 0.0123,
    "rate": 0.1,
    "nav": "navigate",
    "ect": "4g",
}


@pytest.fixture(autouse=True)
def queued_flushes(monkeypatch):
    """Flush tasks that would go to the broker, recorded instead of sent (the tests flush themselves)."""
    from analytics import tasks

    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.flush_buffer, "apply_async", lambda **kwargs: sent.append(kwargs))
    return sent


@pytest.fixture
def shopper() -> Client:
    return Client(REMOTE_ADDR=SHOPPER)


def post(client: Client, body: Any, *, content_type: str = "text/plain", site: str = "same-origin", **headers: str):
    """POST ``body`` (JSON-encoded unless bytes or str) to /rum as sendBeacon does from one of our pages."""
    raw = body if isinstance(body, bytes | str) else json.dumps(body)
    if site:
        headers["HTTP_SEC_FETCH_SITE"] = site
    return client.post("/rum", data=raw, content_type=content_type, **headers)


def pending(stream: str) -> list[dict[str, Any]]:
    """The events of ``stream`` waiting in the buffer."""
    return [json.loads(item) for item in get_redis_connection("durable").lrange(buffer.pending_key(stream), 0, -1)]
