"""Run the benchmarks: ``make bench`` (all) or ``make bench NAME=pages`` (one or more).

Each ``bench/bench_<name>.py`` exposes ``run(base_url: str) -> list[...]`` of results with a
``summary_line()`` and, optionally, ``notes`` (printed under it) and ``problems`` (reasons
the run is not a valid measurement). Results are printed and appended, under a header that
names the date, machine (cores, load average before the run) and git commit, to
``var/bench/results.txt`` for the README (``BENCH_RESULTS_FILE`` elsewhere, for trial runs).

Exit status: 0 when every run was a valid measurement (missed targets are printed as FAIL
but are results); 1 when any run had a problem (a breaker opened, the search fallback
answered a run meant for OpenSearch, a benchmark could not run): each is printed as a
``FAIL:`` line. The stack must be up (``make up``) with the benchmark catalog (``make seed``).
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import subprocess
import sys
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# ``make bench`` with no NAME: the page targets first, on a stack nothing else has
# warmed; the search benchmark last, because it drops the search caches and opens the
# breaker on purpose for its fallback run. The pool benchmark starts gunicorns of its own
# beside the stack's.
ORDER = ["pages", "catalog", "cart", "api", "hot", "pool", "redis", "reports", "metrics", "search"]


def available() -> list[str]:
    names = {path.stem.removeprefix("bench_") for path in (ROOT / "bench").glob("bench_*.py")}
    return [name for name in ORDER if name in names] + sorted(names - set(ORDER))


def git_commit() -> str:
    """``abc1234`` or ``abc1234 (+ uncommitted changes)``; ``unknown`` outside a checkout."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit} (+ uncommitted changes)" if dirty else commit


def machine_line() -> str:
    """Cores and load average now (before the runs): figures from a busy machine are not final figures."""
    one, five, fifteen = os.getloadavg()
    return f"#   machine: {os.cpu_count()} cores, load average {one:.2f} {five:.2f} {fifteen:.2f} before the run"


def pending_tasks(broker: str, queue: str = "celery") -> str:
    """Tasks waiting in the stack's Celery queue: background work (cover fetches, index syncs)
    that will compete with the benchmark for the two cores."""
    if not broker.startswith("redis://"):
        return "no Redis broker configured"
    try:
        import redis

        count = redis.Redis.from_url(broker, socket_timeout=2).llen(queue)
    except Exception as error:  # noqa: BLE001 - a header line, not a reason to stop
        return f"unknown ({type(error).__name__})"
    return f"{count} task(s) waiting" + (" (a worker will be busy during the runs)" if count else "")


def header(now: datetime.datetime, names: list[str]) -> list[str]:
    stamp = now.strftime("%Y-%m-%d %H:%M UTC")
    return [
        f"# {stamp} on {platform.node()} (Python {platform.python_version()}): make bench NAME={' '.join(names)}",
        machine_line(),
        f"#   commit {git_commit()}",
        f"#   celery queue: {pending_tasks(os.environ.get('CELERY_BROKER_URL', ''))}",
    ]


def stack_answers(base_url: str, timeout_s: float = 5.0) -> str | None:
    """``None`` when ``/health`` answers 200, else why not (the stack is not up, or not there)."""
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (OSError, ValueError) as error:
        return f"{base_url}/health did not answer ({error})"
    return None if status == 200 else f"{base_url}/health answered {status}"


def result_lines(result: Any) -> tuple[list[str], list[str]]:
    """(lines to print, problems) for one result."""
    lines = [result.summary_line(), *getattr(result, "notes", [])]
    problems = list(getattr(result, "problems", []))
    return lines, problems


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    base_url = "http://" + os.environ.get("GUNICORN_BIND", "127.0.0.1:8100")
    down = stack_answers(base_url)
    if down:
        print(f"{down}: start the stack first (`make up && make seed`)", file=sys.stderr)
        return 2
    lines = header(datetime.datetime.now(datetime.UTC), names)
    print("\n".join(lines), flush=True)
    problems: list[str] = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.bench_{name}")
            results = module.run(base_url)
        # SystemExit too: a benchmark stops with one when the stack lacks what it needs (a
        # catalog, moto), and that is one benchmark's problem, not the end of the others' figures.
        except (Exception, SystemExit) as error:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            problems.append(f"bench {name}: could not run: {type(error).__name__}: {error}")
            continue
        for result in results:
            printed, found = result_lines(result)
            print("\n".join(printed), flush=True)
            lines += printed
            problems += found
    for problem in problems:
        line = f"FAIL: {problem}"
        print(line, file=sys.stderr, flush=True)
        lines.append(line)
    verdict = (
        f"# INVALID: {len(problems)} problem(s) above; these figures are not measurements of what they name"
        if problems
        else "# every run was a valid measurement (targets: see PASS/FAIL per line)"
    )
    print(verdict, flush=True)
    lines.append(verdict)
    out = Path(os.environ.get("BENCH_RESULTS_FILE") or ROOT / "var" / "bench" / "results.txt")
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as handle:
        handle.write("\n".join(lines) + "\n\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
