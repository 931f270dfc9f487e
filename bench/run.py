"""Run the benchmarks: ``make bench`` (all) or ``make bench NAME=catalog`` (one).

Each ``bench/bench_<name>.py`` exposes ``run(base_url: str) -> list[Result]``. Results are
printed and appended, with the date, to ``var/bench/results.txt`` for the README.
The stack must be up (``make up``) with the benchmark catalog loaded (``make seed``).
"""

from __future__ import annotations

import datetime
import importlib
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def available() -> list[str]:
    return sorted(path.stem.removeprefix("bench_") for path in (ROOT / "bench").glob("bench_*.py"))


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    base_url = "http://" + os.environ.get("GUNICORN_BIND", "127.0.0.1:8100")
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"# {stamp} on {platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()})"
    lines = [header]
    print(header, flush=True)
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        for result in module.run(base_url):
            line = result.summary_line()
            print(line, flush=True)
            lines.append(line)
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.txt").open("a") as handle:
        handle.write("\n".join(lines) + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
