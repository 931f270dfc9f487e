"""Hot data fixtures: a DynamoDB table of this test's own on moto (server mode, AWS_ENDPOINT_URL),
created from code and deleted after; a second moto server that a test may stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import current_app

from catalog.hot import dynamo
from catalog.hot.reads import dynamodb_breaker
from tests.api.conftest import _fresh_category_rows, api, partner, partner_key  # noqa: F401  (shared fixtures)
from tests.network import silent_server, wait_for  # noqa: F401  (a shared fixture; wait_for imported from here)
from tests.workers import real_worker

BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Syncs run eagerly unless a test asks for ``celery_worker``."""
    previous = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = previous


@pytest.fixture
def hot_table(settings) -> Iterator[str]:
    """A table named for this test, created from code like production's; ``DYNAMODB_TABLE`` points at it."""
    name, endpoint = f"test-hot-{uuid.uuid4().hex[:12]}", settings.AWS_ENDPOINT_URL
    settings.DYNAMODB_TABLE = name
    assert dynamo.table_create() is True
    dynamodb_breaker.reset()
    yield name
    # The test may have pointed elsewhere (an outage): delete on the server it was made on.
    settings.DYNAMODB_TABLE, settings.AWS_ENDPOINT_URL = name, endpoint
    dynamo.table_delete()
    dynamodb_breaker.reset()


def item(key: dict[str, Any]) -> dict[str, Any] | None:
    """The stored item under ``key`` (a consistent read), or None."""
    answer = dynamo.write_client().get_item(TableName=dynamo.table_name(), Key=key, ConsistentRead=True)
    return answer.get("Item")


def stored(book_id: int) -> dict[str, Any] | None:
    """The book item's plain values, or None."""
    from catalog.hot.records import plain

    found = item(dynamo.book_key(book_id))
    return plain(found) if found is not None else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class MotoServer:
    """A moto server of this test's own, on a free port: stopping it is a DynamoDB outage."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = (tmp_path / "moto.log").open("w")
        self.process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture
def own_moto(settings, tmp_path) -> Iterator[MotoServer]:
    """A second moto server with a table on it; ``AWS_ENDPOINT_URL`` points there for this test."""
    server = MotoServer(tmp_path)
    settings.AWS_ENDPOINT_URL = server.url
    settings.DYNAMODB_TABLE = f"test-hot-{uuid.uuid4().hex[:12]}"
    dynamo.table_create()
    dynamodb_breaker.reset()
    try:
        yield server
    finally:
        server.stop()
        dynamodb_breaker.reset()


@pytest.fixture
def celery_worker(settings, transactional_db, hot_table):
    """A real ``celery -A cloudshelf worker`` reading the test database and writing this test's table."""
    environment = {
        "DYNAMODB_TABLE": hot_table,
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
    }
    with real_worker("hot", environment) as log:
        yield log
