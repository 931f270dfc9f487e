"""Closed-loop throughput runs with wrk (``wrk -t2 -c16 -d20s`` after a 5 s warm-up).

The open-loop generator (``bench/loadgen.py``) answers "how slow at this rate"; a
throughput target ("at least 1,000 requests/s") needs the closed loop: a fixed number of
connections, each sending its next request as soon as the last one is answered, so the rate
is whatever the server sustains. wrk (C, from Debian's packages: ``scripts/tools.sh wrk``)
runs on the same two cores as the server, so every figure is printed beside a floor from
the same invocation (``/health``) and the ratio to it, which says more than the raw figure
on a shared, noisy machine.

``bench/rotate.lua`` rotates through a URL list (each line may carry a Cookie header),
counts statuses and the values of the headers that say who answered, and prints them in
``bench-wrk ...`` lines that ``parse_wrk_output`` reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import require_loopback

LUA_SCRIPT = Path(__file__).with_name("rotate.lua")
THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "16"))
DURATION_S = float(os.environ.get("BENCH_WRK_DURATION", "20"))
WARMUP_S = float(os.environ.get("BENCH_WRK_WARMUP", "5"))
TRACKED_HEADERS = ("X-Page-Cache", "X-Search-Backend", "X-Cache-Status")
PREFIX = "bench-wrk "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed something this module cannot read."""


@dataclass
class WrkReport:
    """What one wrk run measured (latencies in milliseconds)."""

    requests: int = 0
    duration_s: float = 0.0
    socket_errors: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    # header name (lower case) -> value -> count
    headers: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Requests that got no answer (connect, read, write errors and timeouts)."""
        return sum(count for kind, count in self.socket_errors.items() if kind != "status")

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    def header_summary(self, name: str) -> str:
        """``hit:9500 miss:120`` for one header, ``(absent)`` when no answer carried it."""
        values = self.headers.get(name.lower(), {})
        answered = sum(self.statuses.values())
        absent = answered - sum(values.values())
        parts = [f"{value}:{count}" for value, count in sorted(values.items(), key=lambda item: -item[1])]
        if absent > 0:
            parts.append(f"(absent):{absent}")
        return " ".join(parts) or "(absent)"


def _fields(text: str) -> dict[str, str]:
    pairs = {}
    for token in text.split():
        name, separator, value = token.partition("=")
        if not separator:
            raise WrkError(f"unexpected token {token!r} in wrk output")
        pairs[name] = value
    return pairs


def parse_wrk_output(output: str) -> WrkReport:
    """Read the ``bench-wrk`` lines ``rotate.lua`` prints (wrk's own report is ignored)."""
    report = WrkReport()
    have_summary = have_latency = False
    for line in output.splitlines():
        if not line.startswith(PREFIX):
            continue
        kind, _, rest = line[len(PREFIX) :].partition(" ")
        try:
            if kind == "summary":
                values = {name: int(value) for name, value in _fields(rest).items()}
                report.requests = values.pop("requests")
                report.duration_s = values.pop("duration_us") / 1_000_000
                values.pop("bytes", None)
                report.socket_errors = values
                have_summary = True
            elif kind == "latency_us":
                report.latency_ms = {name: float(value) / 1000 for name, value in _fields(rest).items()}
                have_latency = True
            elif kind == "status":
                status, count = rest.split()
                report.statuses[int(status)] = report.statuses.get(int(status), 0) + int(count)
            elif kind == "header":
                name, value, count = rest.split("\t")
                values = report.headers.setdefault(name.lower(), {})
                values[value] = values.get(value, 0) + int(count)
            else:
                raise WrkError(f"unknown wrk report line: {line!r}")
        except (KeyError, ValueError) as error:
            raise WrkError(f"cannot read wrk report line {line!r}: {error}") from error
    if not (have_summary and have_latency):
        raise WrkError("wrk printed no report (did bench/rotate.lua run?):\n" + output[-2000:])
    return report


def write_url_file(lines: Sequence[tuple[str, str]], directory: Path) -> Path:
    """One ``path<TAB>cookie`` line per request (cookie may be empty); refuses characters that break the format."""
    if not lines:
        raise ValueError("a wrk run needs at least one URL")
    rows = []
    for path, cookie in lines:
        if not path.startswith("/"):
            raise ValueError(f"URL paths must start with '/': {path!r}")
        for text in (path, cookie):
            if any(character in text for character in "\t\r\n"):
                raise ValueError(f"tab or line break in {text!r}")
        rows.append(f"{path}\t{cookie}" if cookie else path)
    url_file = directory / "urls.txt"
    url_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return url_file


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: run `scripts/tools.sh wrk` (`make bench` does)")
    return found


def run_wrk(
    base_url: str,
    lines: Sequence[tuple[str, str]],
    *,
    duration_s: float = DURATION_S,
    threads: int = THREADS,
    connections: int = CONNECTIONS,
    tracked_headers: Sequence[str] = TRACKED_HEADERS,
) -> WrkReport:
    """One closed-loop wrk run over ``lines`` (``(path, cookie)``), returning what it measured."""
    require_loopback(base_url)
    if duration_s < 1 or threads < 1 or connections < threads:
        raise ValueError(f"bad wrk run: duration {duration_s}s, {threads} threads, {connections} connections")
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as directory:
        url_file = write_url_file(lines, Path(directory))
        command = [
            wrk_binary(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA_SCRIPT),
            base_url,
            "--",
            str(url_file),
            *tracked_headers,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with {completed.returncode}: {completed.stderr.strip() or completed.stdout[-500:]}")
    return parse_wrk_output(completed.stdout)
