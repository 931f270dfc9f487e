"""Fixtures of the breaker tests: every breaker closed before and after each test, a sick HTTP
server that counts the calls it gets, and a card processor on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cloudshelf import breaker as breaker_module
from cloudshelf.breaker import all_breakers
from tests.cart.payment_server import API_KEY, FakeProcessor

# Short enough that a test waits out a cool-down in a fraction of a second.
COOLDOWN = 0.3


@pytest.fixture(autouse=True)
def _closed_breakers() -> Iterator[None]:
    """Every registered breaker closed (Redis and process memory), so no test sees another's trip."""
    breaker_module._memory_store.delete(*list(breaker_module._memory_store._values))
    for breaker in all_breakers():
        breaker.reset()
    yield
    for breaker in all_breakers():
        breaker.reset()


class SickServer(ThreadingHTTPServer):
    """An HTTP server that answers every request with ``status`` (503: a dependency in trouble)
    and counts them: "no call made" is asserted where the calls arrive."""

    daemon_threads = True

    def __init__(self) -> None:
        self.calls = 0
        self.status = 503
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _SickHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


class _SickHandler(BaseHTTPRequestHandler):
    server: SickServer

    def _answer(self) -> None:
        with self.server.lock:
            self.server.calls += 1
        length = int(self.headers.get("Content-Length", "0"))
        if length:
            self.rfile.read(length)
        body = b"<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>"
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sick_server() -> Iterator[SickServer]:
    server = SickServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def processor(settings) -> Iterator[FakeProcessor]:
    """The card processor of tests/cart on loopback, made the shop's provider, with the payment
    breaker at 2 failures and a short cool-down."""
    fake = FakeProcessor().start()
    settings.CART_PAYMENT_PROVIDER = "cart.payments.HttpPaymentProvider"
    settings.CART_PAYMENT_API_URL, settings.CART_PAYMENT_API_KEY = fake.url, API_KEY
    settings.CART_PAYMENT_CONNECT_TIMEOUT, settings.CART_PAYMENT_TIMEOUT = 2.0, 0.3
    settings.CART_PAYMENT_BREAKER_FAILURES, settings.CART_PAYMENT_BREAKER_COOLDOWN = 2, COOLDOWN
    settings.CART_PAYMENT_RECONCILE_AFTER_SECONDS = 0
    yield fake
    fake.stop()


# --- Feature flags and load shedding (test_features*.py, test_shedding*.py) ----------------


class FakeClock:
    """Epoch seconds that move only when a test says so."""

    def __init__(self, now: float = 1_780_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fresh_features(settings) -> Iterator[None]:
    """No environment override, flag memo or overload survives a test (tests/conftest.py empties the cache)."""
    from cloudshelf.features.shared import shared_state
    from cloudshelf.features.shedding import monitor

    settings.FEATURE_OVERRIDES = {}
    monitor.reset()
    yield
    monitor.reset()
    shared_state.forget()


@pytest.fixture
def clock(monkeypatch, settings, fresh_features) -> FakeClock:
    """The shared feature state and the load monitor on a fake clock, load shedding on (tests/conftest.py: off)."""
    from cloudshelf.features.shared import shared_state
    from cloudshelf.features.shedding import monitor

    settings.LOAD_SHED_ENABLED = True
    fake = FakeClock()
    monkeypatch.setattr(monitor, "clock", fake)
    monkeypatch.setattr(shared_state, "clock", fake)
    shared_state.forget()
    return fake
