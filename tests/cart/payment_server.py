"""A fake of an *external* card processor's JSON API, served on loopback by a thread.

It speaks the protocol ``cart.payments.HttpPaymentProvider`` is written for, and behaves like
a real processor where it matters to us: a charge is recorded under its ``Idempotency-Key``
(a second request with the key answers the first charge, never a new one) and can be looked
up by that key. ``behaviour`` makes it misbehave the ways a real one does:

- ``"normal"``: approve, or decline the cards in ``DECLINED_CARDS``;
- ``"stall_after_charge"``: record the charge, then say nothing until ``release`` is set (or
  ``STALL_SECONDS`` pass), past the client's read timeout;
- ``"hold"``: like ``stall_after_charge``, but answers once ``release`` is set (a slow charge);
- ``"error"``: 500 without charging; ``"lookup_error"``: lookups answer 500;
- ``"garbage"``: 200 with a body that is not JSON; ``"no_outcome"``: 200 with JSON that names no outcome.

A provider that is *down* is a closed port: ``closed_port_url()``.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

API_KEY = "sk_test_cloudshelf"
DECLINED_CARDS = {"4000000000000002": "Your card was declined."}
STALL_SECONDS = 5


class FakeProcessor:
    """The processor's state: charges by idempotency key, and what the tests told it to do."""

    def __init__(self) -> None:
        self.behaviour = "normal"
        self.charges: dict[str, dict[str, Any]] = {}
        self.charge_requests = 0
        self.lookup_requests = 0
        self.charge_received = threading.Event()  # set when a charge request has been recorded
        self.release = threading.Event()  # lets a stalled or held charge answer
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def charges_made(self) -> int:
        """Distinct charges: what the customer's statement would show."""
        return sum(charge["status"] == "succeeded" for charge in self.charges.values())

    def start(self) -> FakeProcessor:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def charge(self, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.charge_requests += 1
            if key in self.charges:  # an idempotent replay: the first answer, no new charge
                charge = self.charges[key]
                return (200 if charge["status"] == "succeeded" else 402), charge
            if self.behaviour == "error":
                return 500, {"error": {"message": "internal error"}}
            card = body["card"]
            message = DECLINED_CARDS.get(card["number"])
            charge = {
                "id": f"ch_{len(self.charges) + 1:06d}",
                "status": "declined" if message else "succeeded",
                "amount": body["amount"],
                "currency": body["currency"],
                "card_last4": card["number"][-4:],
            }
            if message:
                charge["error"] = {"message": message}
            self.charges[key] = charge
        self.charge_received.set()
        return (402 if message else 200), charge


def _handler_for(processor: FakeProcessor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            self._answer_raw(status, json.dumps(body).encode())

        def _answer_raw(self, status: int, payload: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up waiting (its read timeout): nothing to tell it

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                self._answer(401, {"error": {"message": "Invalid API key."}})
                return False
            return True

        def do_POST(self) -> None:
            if not self._authorised():
                return
            key = self.headers.get("Idempotency-Key", "")
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if self.path != "/v1/charges" or not key:
                self._answer(400, {"error": {"message": "Bad request."}})
                return
            if processor.behaviour == "garbage":
                self._answer_raw(200, b"<html>Service Unavailable</html>")
                return
            if processor.behaviour == "no_outcome":
                self._answer(200, {"id": ["ch_1"], "status": "maybe"})
                return
            status, charge = processor.charge(key, body)
            if processor.behaviour in ("stall_after_charge", "hold") and status != 500:
                processor.release.wait(STALL_SECONDS)
                if processor.behaviour == "stall_after_charge":
                    return  # the connection closes without an answer
            self._answer(status, charge)

        def do_GET(self) -> None:
            if not self._authorised():
                return
            prefix = "/v1/charges/by-idempotency-key/"
            if not self.path.startswith(prefix):
                self._answer(404, {"error": {"message": "Not found."}})
                return
            with processor.lock:
                processor.lookup_requests += 1
            if processor.behaviour == "lookup_error":
                self._answer(500, {"error": {"message": "internal error"}})
                return
            charge = processor.charges.get(unquote(self.path.removeprefix(prefix)))
            if charge is None:
                self._answer(404, {"error": {"message": "No charge with this idempotency key."}})
            else:
                self._answer(200, charge)

    return Handler


def closed_port_url() -> str:
    """The URL of a loopback port nobody listens on: a provider that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
