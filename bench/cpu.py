"""CPU the stack's processes spent during a run: what a request rate means on two cores.

A rate alone says little on a shared 2-core machine: 200 requests/s of a page that costs
9 ms of CPU is the whole machine, and its latency then measures the queue, not the page.
So each run also prints the CPU time gunicorn (master and workers) and Postgres (the
backends serving the stack's database, not other databases on the same server) and the
load generator itself (this process and wrk) used, per request and as cores: read from
``/proc`` and ``getrusage`` (Linux), before and after.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _pid_from_file(path: Path) -> int | None:
    try:
        first = path.read_text().split(maxsplit=1)[0]
    except (OSError, IndexError):
        return None
    return int(first) if first.isdigit() else None


def stack_database() -> str:
    """The stack's database name, from ``DATABASE_URL`` (``cloudshelf`` by default)."""
    path = urlsplit(os.environ.get("DATABASE_URL", "")).path.strip("/")
    return path or "cloudshelf"


def is_backend_of(database: str, command_line: str) -> bool:
    """Whether a Postgres process serves ``database``: ``postgres: <user> <database> <client> <state>``.

    Postgres is shared: other engineers' test databases have backends under the same
    postmaster, and their CPU is not the stack's.
    """
    parts = command_line.split()
    return len(parts) >= 3 and parts[0] == "postgres:" and parts[2] == database


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stack_roots() -> dict[str, int]:
    """``{"gunicorn": pid, "postgres": pid}`` for those that run (their pid files, where scripts/env.sh puts them)."""
    var = Path(os.environ.get("VAR_DIR") or ROOT / "var")
    candidates = {
        "gunicorn": Path(os.environ.get("RUN_DIR") or var / "run") / "gunicorn.pid",
        "postgres": Path(os.environ.get("PG_DATA") or var / "postgres") / "postmaster.pid",
    }
    roots = {}
    for name, path in candidates.items():
        pid = _pid_from_file(path)
        if pid is not None and Path(f"/proc/{pid}").exists():
            roots[name] = pid
    return roots


def parse_stat(text: str) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) from a ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may itself contain spaces or ")",
    so fields are counted from the last ")".
    """
    fields = text[text.rindex(")") + 2 :].split()
    # After the name: state(3) ppid(4) ... utime(14) stime(15), so index = field - 3.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND


def _all_processes() -> dict[int, tuple[int, float]]:
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            processes[int(entry.name)] = parse_stat((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
    return processes


def tree_cpu_seconds(processes: Mapping[int, tuple[int, float]], root: int) -> dict[int, float]:
    """CPU seconds of ``root`` and of every live descendant in ``processes`` (pid -> (ppid, seconds)), by pid."""
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, pending = {}, [root]
    while pending:
        pid = pending.pop()
        if pid in processes:
            found[pid] = processes[pid][1]
        pending.extend(children.get(pid, []))
    return found


@dataclass(frozen=True)
class CpuSnapshot:
    """Per stack part, the CPU seconds of each of its processes (so a replaced worker is noticed)."""

    seconds: dict[str, dict[int, float]]

    @classmethod
    def take(cls) -> CpuSnapshot:
        processes = _all_processes()
        seconds = {name: tree_cpu_seconds(processes, pid) for name, pid in stack_roots().items()}
        # This process (the open-loop generator, the bench's own changes) and the children
        # it waited for (wrk): on two shared cores their CPU is taken from the server's.
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        seconds["load generator"] = {0: own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime}
        if "postgres" in seconds:
            database = stack_database()
            seconds["postgres"] = {
                pid: used for pid, used in seconds["postgres"].items() if is_backend_of(database, _command_line(pid))
            }
        return cls(seconds)


def cpu_used(before: Mapping[int, float], after: Mapping[int, float]) -> tuple[float, bool]:
    """(CPU seconds used between two readings of one tree, whether a process of it exited meanwhile).

    A process that exited (a gunicorn worker recycled after ``max_requests``) takes its CPU
    time with it, so the figure is then a lower bound; one born meanwhile counts whole.
    """
    used = sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())
    return used, bool(set(before) - set(after))


def describe_usage(before: CpuSnapshot, after: CpuSnapshot, *, elapsed_s: float, requests: int) -> str:
    """``cpu: gunicorn 0.84 cores (8.4 ms/request), postgres 0.21 cores (2.1 ms/request) of 2 cores``."""
    if elapsed_s <= 0 or requests <= 0:
        return "cpu: not measured"
    parts, any_lost = [], False
    for name in sorted(set(before.seconds) & set(after.seconds)):
        used, lost = cpu_used(before.seconds[name], after.seconds[name])
        any_lost = any_lost or lost
        bound = " at least" if lost else ""
        parts.append(f"{name}{bound} {used / elapsed_s:.2f} cores ({used / requests * 1000:.1f} ms/request)")
    if not {"gunicorn", "postgres"} & set(before.seconds):
        return "cpu: not measured (no gunicorn or Postgres pid file found)"
    note = " (a process exited during the run, e.g. a recycled worker: its share is missing)" if any_lost else ""
    return f"cpu: {', '.join(parts)} of {os.cpu_count()} cores{note}"
