"""bench/loadgen.py: percentile math, what a run counts per answer, and the step before a request."""

from __future__ import annotations

import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.loadgen import ABSENT, Request, Result, percentile, run_load


def test_the_percentile_is_the_nearest_rank():
    values = [float(value) for value in range(1, 101)]  # 1..100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile(values, 0.0) == 1.0


def test_the_percentile_does_not_care_about_order():
    assert percentile([9.0, 1.0, 5.0], 0.5) == 5.0


def test_the_percentile_of_nothing_is_not_a_number():
    assert math.isnan(percentile([], 0.95))


@pytest.mark.parametrize("fraction", [-0.1, 1.5, 95])
def test_the_percentile_refuses_a_fraction_outside_zero_to_one(fraction):
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        percentile([1.0], fraction)


def test_the_summary_lists_only_headers_some_answer_carried():
    result = Result(name="run")
    result.count_seen({"x-page-cache": "hit", "x-search-backend": ABSENT})
    result.count_seen({"x-page-cache": "hit", "x-search-backend": ABSENT})
    result.count_seen({"x-page-cache": "miss", "x-search-backend": ABSENT})
    assert result.seen_summary() == "x-page-cache=hit:2,miss:1"


@pytest.mark.parametrize(
    "options",
    [{"rate": 0, "duration_s": 1}, {"rate": 10, "duration_s": 0}, {"rate": 10, "duration_s": 1, "connections": 0}],
)
def test_it_refuses_a_load_that_means_nothing(options):
    with pytest.raises(ValueError, match="bad load"):
        run_load("bad", "http://127.0.0.1:1", lambda _i: Request("/"), **options)


class _Handler(BaseHTTPRequestHandler):
    """Answers with the price the step before the request set for that request (``?i=N``)."""

    protocol_version = "HTTP/1.1"
    prices: dict[str, bytes] = {}

    def do_GET(self):
        index = self.path.partition("i=")[2]
        body = b"<p>" + type(self).prices.get(index, b"no price yet") + b"</p>"
        self.send_response(200)
        self.send_header("X-Search-Backend", "opensearch" if "q=" in self.path else "database")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def little_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Handler.prices = {}
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_run_counts_which_backend_answered(little_server):
    result = run_load(
        "mix",
        little_server,
        lambda index: Request("/search/?q=x" if index % 2 else "/books/"),
        rate=100,
        duration_s=0.4,
        warmup_s=0,
    )
    answered = len(result.latencies_ms)
    backends = result.seen["x-search-backend"]
    assert set(backends) == {"opensearch", "database"}
    assert backends["database"] - backends["opensearch"] in (0, 1)
    assert sum(backends.values()) == answered >= 39
    assert result.seen["x-page-cache"] == {ABSENT: answered}


def test_the_step_before_a_request_runs_first_and_its_content_is_looked_for(little_server):
    def change_price(index: int) -> bytes:
        _Handler.prices[str(index)] = f"${index}.00".encode()
        return _Handler.prices[str(index)]

    def wrong_price() -> bytes:
        return b"$999.99"  # what a stale page would lack

    result = run_load(
        "first view after a change",
        little_server,
        lambda index: Request(f"/book/?i={index}", before=(lambda: change_price(index)) if index % 4 else wrong_price),
        rate=80,
        duration_s=0.5,
        warmup_s=0,
    )
    answered = len(result.latencies_ms)
    assert answered >= 39
    assert result.seen["expected content"] == {
        "found": answered - math.ceil(answered / 4),
        "missing": math.ceil(answered / 4),
    }
    assert result.problems == []


def test_a_failing_step_before_a_request_is_a_problem_of_the_run(little_server):
    def broken() -> bytes:
        raise RuntimeError("database gone")

    result = run_load(
        "broken", little_server, lambda _i: Request("/", before=broken), rate=50, duration_s=0.2, warmup_s=0
    )
    assert result.errors >= 9
    assert result.latencies_ms == []
    assert result.problems == ["broken: the step before a request failed: RuntimeError: database gone"]
