"""A TCP fault proxy on loopback: what a stopped, slow or hung server looks like to the app.

The fault tests put one in front of a real service (the shared Postgres, OpenSearch) and
point only their own processes at it, so the fault never reaches another test run or the
dev stack. Modes, switched at any time:

* ``pass`` — bytes go through untouched;
* ``slow`` — every chunk a client sends waits ``latency`` seconds first (each query or
  request pays one round trip of it, as over a congested link or from an overloaded server);
* ``refuse`` — nothing listens on the port and open connections are cut: a stopped server;
* ``hang`` — connections are accepted and then nothing is forwarded either way: a frozen one.

``sent_upstream`` counts the bytes clients sent through and ``held_upstream`` the requests
(chunks) held up in ``hang`` mode: a test can tell that an answer was given without asking
the service at all.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

MODES = ("pass", "slow", "refuse", "hang")
CHUNK_BYTES = 65536


class FaultProxy:
    """Forwards 127.0.0.1:``port`` to ``upstream`` and misbehaves as told (``set_mode``)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode = "pass"
        self.latency = 0.0
        self.sent_upstream = 0
        self.held_upstream = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._stopping = threading.Event()
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def url(self, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def set_mode(self, mode: str, *, latency: float = 0.0) -> None:
        """Switch to ``mode``; ``refuse`` closes the port and cuts every open connection."""
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {', '.join(MODES)}")
        if latency < 0 or latency > 30:
            raise ValueError("latency must be between 0 and 30 seconds")
        with self._lock:
            self.mode, self.latency = mode, latency
            if mode == "refuse":
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                self._cut_all()
            elif self._listener is None:
                self._listener = self._listen(self.port)

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(128)
        listener.settimeout(0.05)
        return listener

    def _cut_all(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._sockets.clear()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                time.sleep(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()  # the service itself is down: the client sees a closed connection
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, is_upstream: bool) -> None:
        try:
            while True:
                data = source.recv(CHUNK_BYTES)
                if not data:
                    break
                if self.mode == "hang" and is_upstream:
                    with self._lock:
                        self.held_upstream += 1
                while self.mode == "hang" and not self._stopping.is_set():
                    time.sleep(0.05)
                if is_upstream:
                    if self.mode == "slow":
                        time.sleep(self.latency)
                    with self._lock:
                        self.sent_upstream += len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    @contextmanager
    def running(self) -> Iterator[FaultProxy]:
        self._accepting.start()
        try:
            yield self
        finally:
            self._stopping.set()
            self._accepting.join(timeout=5)
            with self._lock:
                if self._listener is not None:
                    self._listener.close()
                    self._listener = None
                self._cut_all()


@contextmanager
def fault_proxy(upstream_host: str, upstream_port: int) -> Iterator[FaultProxy]:
    """A running ``FaultProxy`` in front of ``upstream_host:upstream_port``, closed afterwards."""
    with FaultProxy(upstream_host, upstream_port).running() as proxy:
        yield proxy
