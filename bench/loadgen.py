"""A small open-loop HTTP load generator for the benchmarks (loopback only).

Requests are *scheduled* at a fixed rate and latency is measured from the scheduled
start, not from when a connection became free, so a slow server cannot hide its
queueing delay (no coordinated omission). HTTP/1.1 keep-alive over a fixed pool of
connections, written on asyncio streams so one Python process can drive a few thousand
requests per second while leaving most of the CPU to the server under test.
"""

from __future__ import annotations

import asyncio
import ipaddress
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# Response headers that say who answered, counted per run (``Result.seen``) so a report
# shows which cache layer or search backend served the requests it measured.
TRACKED_HEADERS = ("x-page-cache", "x-search-backend", "x-cache-status")
# What ``Result.seen`` records for a tracked header a response did not carry.
ABSENT = "(absent)"


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    # Optional: latencies of labelled requests are also kept per label (``Result.by_label``),
    # so one mixed run at a total rate reports each kind of request on its own.
    label: str = ""
    # Optional: a blocking step run in a worker thread before the request is sent (say, a
    # change to the book whose page is then fetched). Latency is then measured from when it
    # returned (or the scheduled time, if later). What it returns, when not empty, must
    # appear in the response body: ``Result.seen["expected content"]`` counts found/missing.
    before: Callable[[], bytes] | None = field(default=None, compare=False)


# Derives what to count from one answer: ``{"name": "value"}`` pairs added to ``Result.seen``.
Observer = Callable[[Request, int, Mapping[str, str], bytes], Mapping[str, str]]


def observe_tracked_headers(request: Request, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """The default observer: the value of each of ``TRACKED_HEADERS`` (``ABSENT`` when missing)."""
    return {name: headers.get(name, ABSENT) for name in TRACKED_HEADERS}


@dataclass
class Result:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    elapsed_s: float = 0.0
    target_rate: float = 0.0
    by_label: dict[str, Result] = field(default_factory=dict)
    # name -> value -> count, from the observer (tracked headers by default).
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    # Reasons the run is not a valid measurement (a breaker opened, the fallback answered,
    # ...): ``bench/run.py`` prints each as a FAIL line and exits non-zero.
    problems: list[str] = field(default_factory=list)
    # Extra lines printed under the summary (targets, what the rate means, CPU used).
    notes: list[str] = field(default_factory=list)

    def percentile(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction)

    def count_seen(self, observed: Mapping[str, str]) -> None:
        for name, value in observed.items():
            values = self.seen.setdefault(name, {})
            values[value] = values.get(value, 0) + 1

    def seen_summary(self) -> str:
        """``x-page-cache=hit:900,miss:100``; headers no response carried are left out."""
        parts = []
        for name, values in sorted(self.seen.items()):
            if set(values) == {ABSENT}:
                continue
            counts = ",".join(f"{value}:{count}" for value, count in sorted(values.items(), key=lambda kv: -kv[1]))
            parts.append(f"{name}={counts}")
        return " ".join(parts)

    @property
    def achieved_rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def summary_line(self) -> str:
        ok = sum(count for status, count in self.statuses.items() if 200 <= status < 400)
        return (
            f"{self.name:<34} n={len(self.latencies_ms):>5}  "
            f"p50={self.percentile(0.50):7.2f} ms  p95={self.percentile(0.95):7.2f} ms  "
            f"p99={self.percentile(0.99):7.2f} ms  mean={statistics.fmean(self.latencies_ms or [0]):7.2f} ms  "
            f"rate={self.achieved_rate:6.1f}/s (target {self.target_rate:.0f})  ok={ok} errors={self.errors} "
            f"statuses={dict(sorted(self.statuses.items()))}" + (f"  {seen}" if (seen := self.seen_summary()) else "")
        )


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1): the smallest value with at least that share at or below it."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"percentile fraction must be within 0..1, not {fraction}")
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def require_loopback(base_url: str) -> tuple[str, int]:
    """Refuse to aim load anywhere but this machine."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to send load to {host}: benchmarks only target loopback")
    return host, parts.port or 80


class _Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, request: Request, extra_headers: Sequence[tuple[str, str]] = ()
    ) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        assert self.writer is not None
        lines = [f"{request.method} {request.path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in (*request.headers, *extra_headers)]
        if request.body or request.method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(request.body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + request.body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.lower() == "close":
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _run(
    name: str,
    base_url: str,
    next_request: Callable[[int], Request],
    rate: float,
    duration_s: float,
    connections: int,
    warmup_s: float,
    extra_headers: Sequence[tuple[str, str]],
    observe: Observer,
) -> Result:
    host, port = require_loopback(base_url)
    pool: asyncio.Queue[_Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(_Connection(host, port))
    result = Result(name=name, target_rate=rate)
    interval = 1.0 / rate
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s
    pending: set[asyncio.Task[None]] = set()

    async def one(index: int, scheduled: float) -> None:
        request = next_request(index)
        measured = [result]
        if request.label and scheduled >= measure_from:
            measured.append(result.by_label.setdefault(request.label, Result(name=f"{name}: {request.label}")))
        started, expected = scheduled, b""
        if request.before is not None:
            try:
                expected = await loop.run_in_executor(None, request.before)
            except Exception as error:  # noqa: BLE001 - reported as a problem of the run, not a crash
                problem = f"{name}: the step before a request failed: {type(error).__name__}: {error}"
                if problem not in result.problems:
                    result.problems.append(problem)
                if scheduled >= measure_from:
                    for target in measured:
                        target.errors += 1
                return
            started = max(scheduled, loop.time())
        connection = await pool.get()
        try:
            status, headers, body = await connection.request(request, extra_headers)
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            connection.close()
            if scheduled >= measure_from:
                for target in measured:
                    target.errors += 1
            return
        finally:
            pool.put_nowait(connection)
        if scheduled >= measure_from:
            observed = dict(observe(request, status, headers, body))
            if expected:
                observed["expected content"] = "found" if expected in body else "missing"
            for target in measured:
                target.latencies_ms.append((loop.time() - started) * 1000)
                target.statuses[status] = target.statuses.get(status, 0) + 1
                target.count_seen(observed)

    index = 0
    while True:
        scheduled = start + index * interval
        if scheduled >= stop_at:
            break
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(index, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
        index += 1
    if pending:
        await asyncio.wait(pending, timeout=30)
    result.elapsed_s = duration_s
    while not pool.empty():
        pool.get_nowait().close()
    return result


def run_load(
    name: str,
    base_url: str,
    next_request: Callable[[int], Request],
    *,
    rate: float,
    duration_s: float,
    connections: int = 16,
    warmup_s: float = 2.0,
    extra_headers: Sequence[tuple[str, str]] = (),
    observe: Observer = observe_tracked_headers,
) -> Result:
    """Send ``rate`` requests per second for ``warmup_s + duration_s`` seconds; measure after warm-up.

    ``observe`` picks what to count from each measured answer (by default the headers that
    say which cache or search backend answered); the counts land in ``Result.seen``.
    """
    if rate <= 0 or duration_s <= 0 or connections < 1 or warmup_s < 0:
        raise ValueError(
            f"bad load: rate={rate}, duration_s={duration_s}, connections={connections}, warmup_s={warmup_s}"
        )
    started = time.perf_counter()
    result = asyncio.run(
        _run(name, base_url, next_request, rate, duration_s, connections, warmup_s, extra_headers, observe)
    )
    result.elapsed_s = min(result.elapsed_s, time.perf_counter() - started)
    for labelled in result.by_label.values():
        labelled.elapsed_s = result.elapsed_s
        labelled.target_rate = rate * len(labelled.latencies_ms) / max(1, len(result.latencies_ms))
    return result
