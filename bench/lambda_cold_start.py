"""Cold start of the Lambda entry point: what a new instance spends before its first answer.

Each run is a fresh Python process, as a new Lambda instance is: it times
``import cloudshelf.aws_lambda`` (settings, ``django.setup()``, the middleware chain) and then
the first ``/health`` request through the handler, with the ALB's health-check event
(tests/deploy/events/health_check.json). Prints p50/p95/max of both over ``--runs`` processes
and, from one more process under ``python -X importtime``, the modules that cost most.

Run it with the environment of the deployment to measure (the Lambda defaults apply:
``AWS_LAMBDA_FUNCTION_NAME`` is set for the children); nothing is connected at import, so no
service has to be reachable. Lambda's own init (runtime start, image pull) comes on top.

    .venv/bin/python bench/lambda_cold_start.py --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEALTH_EVENT = ROOT / "tests" / "deploy" / "events" / "health_check.json"

CHILD = """
import json, sys, time
started = time.perf_counter()
import cloudshelf.aws_lambda as entry
imported = time.perf_counter()
response = entry.handler(json.load(open(sys.argv[1])), None)
answered = time.perf_counter()
assert response["statusCode"] == 200, response
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": (answered - imported) * 1000}))
"""


def _environment(data_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_LAMBDA_FUNCTION_NAME": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "cloudshelf-cold-start-bench"),
        "DATA_DIR": os.environ.get("DATA_DIR", data_dir),
        "PYTHONPATH": str(ROOT),
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: with 10 runs, p95 is the slowest but none)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def run_once(data_dir: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(HEALTH_EVENT)],
        cwd=ROOT,
        env=_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def import_costs(data_dir: str, *, top: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(modules by own import time, top-level packages by the sum of their modules' own time), microseconds.

    ``django.setup()`` runs inside ``cloudshelf.wsgi``'s import, so that module's own time is
    the setup's work beyond importing (app registry, checks of settings, the middleware chain)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import cloudshelf.aws_lambda"],
        cwd=ROOT,
        env=_environment(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    own: list[tuple[str, int]] = []
    packages: dict[str, int] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
            continue
        self_us, _cumulative_us, name = line.removeprefix("import time:").split("|")
        own.append((name.strip(), int(self_us)))
        package = name.strip().split(".")[0]
        packages[package] = packages.get(package, 0) + int(self_us)
    return sorted(own, key=lambda item: -item[1])[:top], sorted(packages.items(), key=lambda item: -item[1])[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes to time (default 10)")
    parser.add_argument("--top", type=int, default=10, help="modules to list (default 10)")
    options = parser.parse_args(argv)
    if not 1 <= options.runs <= 1000 or not 1 <= options.top <= 100:
        parser.error("--runs must be 1..1000 and --top 1..100")

    with tempfile.TemporaryDirectory(prefix="cloudshelf-cold-start-") as data_dir:
        runs = [run_once(data_dir) for _ in range(options.runs)]
        own, packages = import_costs(data_dir, top=options.top)

    print(f"Lambda cold start, {options.runs} fresh processes (python {sys.version.split()[0]})")
    for key, label in (("import_ms", "import cloudshelf.aws_lambda"), ("first_ms", "first /health through handler")):
        values = [run[key] for run in runs]
        print(
            f"  {label:32} p50 {percentile(values, 0.5):7.1f} ms  p95 {percentile(values, 0.95):7.1f} ms"
            f"  max {max(values):7.1f} ms"
        )
    print(f"\nTop {options.top} modules by own import time (python -X importtime):")
    for name, micros in own:
        print(f"  {micros / 1000:7.1f} ms  {name}")
    print(f"\nTop {options.top} packages imported at start-up (sum of their modules' own time):")
    for name, micros in packages:
        print(f"  {micros / 1000:7.1f} ms  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
