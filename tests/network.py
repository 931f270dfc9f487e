"""Network stand-ins shared by the outage tests: a hung endpoint, and waiting for a condition."""

from __future__ import annotations

import fcntl
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A port that accepts connections and never answers: a hung OpenSearch or DynamoDB.

    Yields its URL and the connections it accepted (how many requests were tried).
    """
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def wait_for(condition: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@contextmanager
def one_fault_test_at_a_time() -> Iterator[None]:
    """Hold the machine-wide lock of the tests that stop, start or slow a service down.

    Each such test waits on real timeouts and recoveries; two at once on a 2-core machine
    (two xdist workers: a second OpenSearch node starting beside a stopped one) miss them.
    The other worker's ordinary tests go on meanwhile.
    """
    with open(Path(tempfile.gettempdir()) / "cloudshelf-fault-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
