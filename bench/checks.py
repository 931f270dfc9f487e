"""Is a benchmark run a valid measurement? The search breaker and the backend that answered.

On a fresh machine a search warm-up once tripped the OpenSearch breaker: for the next 80 s
the database fallback answered, and the figures printed as if OpenSearch had. So every run
is watched: the breaker's state (it lives in Redis, shared with gunicorn) is read before,
polled during and read after the run, and the answers' ``X-Search-Backend`` header (or the
API's ``backend`` field) is counted. A run meant for OpenSearch that saw the breaker leave
"closed", count a failure, or any answer from the database is not a measurement of
OpenSearch: it gets a problem, which ``bench/run.py`` prints as a FAIL line and turns into
a non-zero exit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bench.cpu import CpuSnapshot, describe_usage
from bench.loadgen import ABSENT, Observer, Request, Result, observe_tracked_headers, run_load
from bench.targets import Target

CLOSED = "closed"
BACKEND = "backend"
OPENSEARCH, DATABASE = "opensearch", "database"


@dataclass(frozen=True)
class BreakerReading:
    """One look at the breaker: its state and the failures it has counted (0 when none)."""

    state: str
    failures: int


@dataclass
class BreakerLog:
    """What the breaker did while a run was watched."""

    before: BreakerReading | None = None
    after: BreakerReading | None = None
    states_seen: set[str] = field(default_factory=set)
    most_failures: int = 0
    read_errors: list[str] = field(default_factory=list)

    def record(self, reading: BreakerReading) -> None:
        self.states_seen.add(reading.state)
        self.most_failures = max(self.most_failures, reading.failures)

    def problems(self, run_name: str) -> list[str]:
        """Why the run cannot count as served by OpenSearch, or ``[]``."""
        found = []
        if self.before is not None and self.before.state != CLOSED:
            found.append(f"{run_name}: the search breaker was {self.before.state} before the run started")
        opened = sorted(self.states_seen - {CLOSED})
        if opened:
            found.append(f"{run_name}: the search breaker went {'/'.join(opened)} during the run")
        if self.most_failures:
            found.append(
                f"{run_name}: OpenSearch failed {self.most_failures} time(s) in a row during the run "
                "(each such search was answered by the database fallback)"
            )
        if self.read_errors:
            found.append(f"{run_name}: could not read the breaker state: {self.read_errors[0]}")
        return found


def read_breaker() -> BreakerReading:
    """The stack's OpenSearch breaker as gunicorn sees it (its keys live in the shared Redis)."""
    from search.breaker import opensearch_breaker

    # The breaker has no public reader of its failure count; this reads the key it counts in.
    failures_key = opensearch_breaker._key("failures")
    (failures,) = opensearch_breaker._call(lambda store: store.get_many([failures_key]))
    return BreakerReading(state=opensearch_breaker.state, failures=int(failures))


@contextmanager
def watch_breaker(read: Callable[[], BreakerReading] = read_breaker, interval_s: float = 0.25) -> Iterator[BreakerLog]:
    """Read the breaker before and after the block and every ``interval_s`` during it.

    The breaker stays open for its cool-down (10 s by default), so polling four times a
    second cannot miss a trip; a failure counted and then cleared by a success between two
    polls can be missed, which is what the per-request backend count is for.
    """
    log = BreakerLog()
    stop = threading.Event()

    def sample() -> BreakerReading | None:
        try:
            reading = read()
        except Exception as error:  # noqa: BLE001 - reported as a problem of the run
            if len(log.read_errors) < 3:
                log.read_errors.append(f"{type(error).__name__}: {error}")
            return None
        log.record(reading)
        return reading

    def poll() -> None:
        while not stop.wait(interval_s):
            sample()

    log.before = sample()
    poller = threading.Thread(target=poll, name="breaker-watch", daemon=True)
    poller.start()
    try:
        yield log
    finally:
        stop.set()
        poller.join(timeout=5)
        log.after = sample()


def backend_problems(result: Result, expected: str) -> list[str]:
    """Answers in ``result`` that another backend than ``expected`` gave, as problem lines."""
    counts = dict(result.seen.get(BACKEND, {}))
    wrong = {value: count for value, count in counts.items() if value not in (expected, ABSENT)}
    found = []
    if wrong:
        described = ", ".join(f"{count} by {value}" for value, count in sorted(wrong.items()))
        found.append(f"{result.name}: meant for {expected}, but {described}")
    return found


def backend_note(result: Result) -> str | None:
    """A line saying how many answers did not say which backend answered, or ``None``."""
    unknown = result.seen.get(BACKEND, {}).get(ABSENT, 0)
    if unknown:
        return f"  note: {unknown} answer(s) did not say which search backend answered (no X-Search-Backend)"
    return None


def observe_backend(request: Request, status: int, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
    """Tracked headers plus ``backend``: the ``X-Search-Backend`` header, else the JSON ``backend`` field."""
    observed = observe_tracked_headers(request, status, headers, body)
    backend = headers.get("x-search-backend") or _json_backend(headers, body) or ABSENT
    observed[BACKEND] = backend
    return observed


def _json_backend(headers: Mapping[str, str], body: bytes) -> str | None:
    """The partner API says who answered in its body: ``{"backend": "opensearch", ...}``."""
    if "json" not in headers.get("content-type", "") or not body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    backend = document.get("backend") if isinstance(document, dict) else None
    return backend if isinstance(backend, str) and backend else None


def verify_search_run(result: Result, log: BreakerLog, *, expected: str) -> Result:
    """Attach to ``result`` every reason it does not measure ``expected`` (the backend meant to answer).

    For the fallback run (``expected="database"``) the breaker is opened on purpose, so only
    the answers are checked: each must come from the database.
    """
    if expected == OPENSEARCH:
        result.problems.extend(log.problems(result.name))
    result.problems.extend(backend_problems(result, expected))
    note = backend_note(result)
    if note:
        result.notes.append(note)
    return result


def breaker_note(log: BreakerLog) -> str:
    """``  breaker: closed before, closed after`` (with any other state seen during the run)."""

    def state(reading: BreakerReading | None) -> str:
        return reading.state if reading is not None else "unknown"

    during = sorted(log.states_seen - {CLOSED})
    return f"  breaker: {state(log.before)} before, {state(log.after)} after" + (
        f" ({'/'.join(during)} during the run)" if during else ""
    )


def target_note(result: Result, target: Target) -> str:
    """The PASS/FAIL line of an open-loop run; unanswered requests and 5xx answers fail it too.

    4xx answers are answers (a search's page 4 when there are three is a 404 by design).
    """
    server_errors = sum(count for status, count in result.statuses.items() if status >= 500)
    verdict = target.verdict(
        rate=result.achieved_rate,
        p95_ms=result.percentile(0.95),
        p99_ms=result.percentile(0.99),
        problems=result.errors + server_errors,
    )
    return f"  {verdict}"


def run_watched(
    name: str,
    base_url: str,
    next_request: Callable[[int], Request],
    *,
    target: Target | None = None,
    expected_backend: str | None = None,
    observe: Observer = observe_tracked_headers,
    **options: Any,
) -> Result:
    """``run_load`` with the breaker watched, the stack's CPU measured, and the target checked.

    ``expected_backend`` (``opensearch``/``database``) makes it a search run: answers are
    counted by backend and checked (``verify_search_run``); otherwise any breaker movement
    during the run is still a problem, as the issue asks of every benchmark.
    """
    print(f"  running {name} …", flush=True)
    cpu_before = CpuSnapshot.take()
    with watch_breaker() as breaker:
        result = run_load(
            name, base_url, next_request, observe=observe_backend if expected_backend else observe, **options
        )
    cpu_after = CpuSnapshot.take()
    if expected_backend:
        verify_search_run(result, breaker, expected=expected_backend)
        result.notes.append(breaker_note(breaker))
    else:
        result.problems.extend(breaker.problems(name))
    sent = len(result.latencies_ms) + result.errors
    warmup_s = float(options.get("warmup_s", 2.0))
    rate = float(options["rate"])
    # CPU is read around the whole run, warm-up included, so it is divided by all it sent.
    total = sent + round(warmup_s * rate)
    result.notes.append(
        "  " + describe_usage(cpu_before, cpu_after, elapsed_s=result.elapsed_s + warmup_s, requests=total)
    )
    if target is not None:
        result.notes.append(target_note(result, target))
    return result
