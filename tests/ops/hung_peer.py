"""A loopback "Redis" that accepts connections and never answers: what a hung server looks like."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class HungPeer:
    """Counts the connections it accepts; reads nothing, writes nothing, closes them at the end.

    ``hang_up=True`` closes each one at once instead: a server that is down, but counts who knocked.
    """

    def __init__(self, *, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, database: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{database}"

    @property
    def accepted(self) -> int:
        return len(self.connections)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(connection)
            if self.hang_up:
                connection.close()

    @contextmanager
    def running(self) -> Iterator[HungPeer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stopping.set()
            self._thread.join(timeout=5)
            for connection in self.connections:
                connection.close()
            self.listener.close()
