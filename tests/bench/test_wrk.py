"""bench/wrk.py: reading wrk's report, the URL file, and the Lua script run by the real wrk."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.wrk import WrkError, parse_wrk_output, run_wrk, write_url_file

REPORT = """Running 20s test @ http://127.0.0.1:8100
  2 threads and 16 connections
bench-wrk summary requests=24000 duration_us=20000000 bytes=1000 connect=0 read=2 write=0 status=5 timeout=1
bench-wrk latency_us mean=6500.5 max=90000 p50=5000 p90=9000 p95=12000 p99=30000
bench-wrk status 200 23995
bench-wrk status 503 5
bench-wrk header x-page-cache\thit\t23000
bench-wrk header x-page-cache\tmiss\t900
"""


def test_it_reads_rate_latency_statuses_and_headers():
    report = parse_wrk_output(REPORT)
    assert report.requests == 24000
    assert report.rate == 1200.0
    assert report.latency_ms["p99"] == 30.0
    assert report.latency_ms["p50"] == 5.0
    assert report.statuses == {200: 23995, 503: 5}
    assert report.non_2xx == 5
    assert report.errors == 3  # read and timeout; "status" is counted by non_2xx
    assert report.headers == {"x-page-cache": {"hit": 23000, "miss": 900}}


def test_the_header_summary_counts_answers_without_the_header():
    report = parse_wrk_output(REPORT)
    assert report.header_summary("X-Page-Cache") == "hit:23000 miss:900 (absent):100"
    assert report.header_summary("X-Search-Backend") == "(absent):24000"


def test_it_refuses_output_without_the_scripts_report():
    with pytest.raises(WrkError, match="no report"):
        parse_wrk_output("Running 20s test @ http://127.0.0.1:8100\nRequests/sec: 1000\n")


@pytest.mark.parametrize(
    "line",
    [
        "bench-wrk summary requests=many duration_us=1 connect=0",
        "bench-wrk summary duration_us=1",
        "bench-wrk status 200",
        "bench-wrk header x-page-cache hit 3",
        "bench-wrk surprise 1",
    ],
)
def test_it_refuses_a_malformed_report_line(line):
    with pytest.raises(WrkError):
        parse_wrk_output(REPORT + line + "\n")


def test_the_url_file_has_one_request_per_line_with_its_cookie(tmp_path):
    path = write_url_file([("/books/", ""), ("/cart/", "sessionid=abc")], tmp_path)
    assert path.read_text() == "/books/\n/cart/\tsessionid=abc\n"


@pytest.mark.parametrize(
    "lines",
    [[], [("books/", "")], [("/books/\n/x", "")], [("/cart/", "a=b\tc")], [("/cart/", "a=b\r\nX-Evil: 1")]],
)
def test_the_url_file_refuses_what_would_break_it(lines, tmp_path):
    with pytest.raises(ValueError, match=r"at least one URL|must start with '/'|tab or line break"):
        write_url_file(lines, tmp_path)


def test_it_only_aims_at_loopback():
    with pytest.raises(SystemExit, match="loopback"):
        run_wrk("http://10.1.2.3:8100", [("/", "")], duration_s=1)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen_cookies: list[str] = []

    def do_GET(self):
        self.seen_cookies.append(self.headers.get("Cookie", ""))
        status = 404 if self.path == "/missing" else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("X-Page-Cache", "hit" if self.path == "/cached" else "miss")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def little_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.seen_cookies = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_lua_script_rotates_urls_sends_cookies_and_counts_headers(little_server):
    lines = [("/cached", "sessionid=one"), ("/fresh", ""), ("/missing", "")]
    report = run_wrk(little_server, lines, duration_s=1, threads=1, connections=2)
    answered = sum(report.statuses.values())
    assert answered > 30
    assert set(report.statuses) == {200, 404}
    assert report.non_2xx == report.statuses[404]
    assert report.statuses[404] == pytest.approx(answered / 3, rel=0.2)  # one URL in three
    assert set(report.headers["x-page-cache"]) == {"hit", "miss"}
    assert sum(report.headers["x-page-cache"].values()) == answered
    assert "sessionid=one" in _Handler.seen_cookies
    assert "" in _Handler.seen_cookies
    assert report.latency_ms["p99"] >= report.latency_ms["p50"] > 0
