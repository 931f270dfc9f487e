"""Fixtures of the server-metrics tests: the EMF and slow-request lines as a test reads them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import orjson
import pytest

from analytics.metrics import store


class JsonLines(logging.Handler):
    """Keeps each record of one logger, parsed as the JSON line it is."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.raw.append(record.getMessage())

    @property
    def lines(self) -> list[dict]:
        return [orjson.loads(line) for line in self.raw]


def _capture(name: str) -> Iterator[JsonLines]:
    # The loggers do not propagate (settings.LOGGING), so caplog cannot see them: listen directly.
    handler = JsonLines()
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def emf_lines() -> Iterator[JsonLines]:
    yield from _capture("cloudshelf.metrics")


@pytest.fixture
def slow_lines() -> Iterator[JsonLines]:
    yield from _capture("cloudshelf.slow")


@pytest.fixture(autouse=True)
def _fresh_metrics_store(settings):
    """No counts from earlier requests, and no flush in the middle of a test unless it asks for one."""
    settings.METRICS_FLUSH_SECONDS = 3600
    store.reset_for_tests()
    yield
    store.reset_for_tests()
