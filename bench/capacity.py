"""``make capacity``: the highest shopper arrival rate this machine sustains within every criterion.

The mixed shopper profile (the document's normal mix, ``loadtest/profiles.yml``) runs at a
constant arrival rate for ``--step-seconds`` per step, the rate rising by ``--factor`` each
step, until a step fails a criterion (``bench/loadtest_report.py``: the document's per-group
p95 and success floors and our 99.9 % of all requests). The figure is the last rate that met
them all. It is measured twice: straight to gunicorn (``127.0.0.1:8100``) and through nginx
(``127.0.0.1:8080``, the HTTP cache), the latter with its hit rate (X-Cache-Status). Before
each, a closed-loop ``/health`` floor from wrk says how much of the shared machine was free.

Bounded: at most ``--max-steps`` steps per target, and no run starts that would end past the
target's share of ``--budget-seconds`` (15 minutes for the whole run by default).
Results go to ``var/loadtest/capacity-<UTC stamp>/`` (each step's report and raw JSON) and
``capacity.txt`` there, which the README quotes.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import loadtest, loadtest_report  # noqa: E402

GUNICORN = "http://" + os.environ.get("GUNICORN_BIND", "127.0.0.1:8100")
NGINX = "http://127.0.0.1:" + os.environ.get("NGINX_PORT", "8080")


@dataclass(frozen=True)
class Step:
    rate: int
    passed: bool
    requests_per_s: float
    summary: str
    cache_hit_percent: float


def step_rates(*, start: float, factor: float, max_steps: int) -> list[int]:
    """Arrival rates ``start``, ``start*factor``, ... rounded, each higher than the one before."""
    if start < 1 or factor <= 1 or max_steps < 1:
        raise loadtest.LoadtestError(f"bad capacity steps: start {start}, factor {factor}, {max_steps} steps")
    rates: list[int] = []
    rate = start
    while len(rates) < max_steps:
        rounded = max(round(rate), rates[-1] + 1 if rates else 1)
        rates.append(rounded)
        rate *= factor
    return rates


def highest_sustained(steps: Sequence[Step]) -> int | None:
    """The last rate that passed before the first failure (``None``: even the first failed)."""
    best = None
    for step in steps:
        if not step.passed:
            break
        best = step.rate
    return best


def step_profile(base: loadtest.Profile, *, rate: int, seconds: int) -> loadtest.Profile:
    return loadtest.Profile(
        name=f"capacity-{rate}",
        description=f"{base.weights} at {rate}/s",
        phases=(loadtest.Phase(name="steady", duration_s=seconds, arrival_rate=rate),),
        weights=base.weights,
    )


def floor(target: str) -> str:
    """``/health`` closed-loop with wrk for 10 s: the machine's free capacity at the moment."""
    from bench.wrk import WrkError, run_wrk

    try:
        report = run_wrk(target, [("/health", "")], duration_s=10)
    except WrkError as error:
        return f"floor not measured ({error})"
    return f"/health floor {report.rate:,.0f} req/s (p99 {report.latency_ms.get('p99', math.nan):.1f} ms)"


# Each Artillery run costs its step plus ~35 s (its start, the last shoppers' flows, the report).
RUN_OVERHEAD_S = 35


def measure(
    target: str,
    *,
    rates: Sequence[int],
    seconds: int,
    out_dir: Path,
    budget_s: float = math.inf,
    clock: Callable[[], float] = time.monotonic,
) -> list[Step]:
    """Each rate in turn until one fails twice running: on a shared machine another process's
    burst can fail one step, so a failed step is run once more before it ends the search. No run
    starts that would end past ``budget_s`` (the time bound of ``make capacity``)."""
    steps: list[Step] = []
    started = clock()

    def within_budget() -> bool:
        if clock() - started + seconds + RUN_OVERHEAD_S <= budget_s:
            return True
        print(f"  stopped: another step would pass this target's time bound of {budget_s:.0f} s", flush=True)
        return False

    for rate in rates:
        if not within_budget():
            break
        step = _measure_step(target, rate=rate, seconds=seconds, run_dir=out_dir / f"{_port(target)}-{rate}")
        if not step.passed:
            if not within_budget():
                steps.append(step)
                break
            step = _measure_step(target, rate=rate, seconds=seconds, run_dir=out_dir / f"{_port(target)}-{rate}-again")
        steps.append(step)
        if not step.passed:
            break
    return steps


def _port(target: str) -> str:
    return target.rsplit(":", 1)[-1]


def _measure_step(target: str, *, rate: int, seconds: int, run_dir: Path) -> Step:
    base = loadtest.load_profiles()["normal"]
    _, raw = loadtest.run_profile(
        profile=step_profile(base, rate=rate, seconds=seconds), scale=1.0, target=target, out_dir=run_dir
    )
    evaluation = loadtest_report.evaluate(raw)
    loadtest_report.write_report(run_dir / "report.html", raw=raw, evaluation=evaluation, title=f"{rate}/s")
    failures = [f"{v.subject}: {v.measured}" for v in evaluation.verdicts if not v.passed]
    step = Step(
        rate=rate,
        passed=evaluation.passed,
        requests_per_s=evaluation.requests / seconds,
        summary="all criteria met" if not failures else "; ".join(failures[:3]),
        cache_hit_percent=evaluation.cache_hit_percent,
    )
    hit = "" if math.isnan(step.cache_hit_percent) else f", cache hit {step.cache_hit_percent:.1f} %"
    print(
        f"  {rate:>4} shoppers/s (~{step.requests_per_s:,.0f} req/s{hit}): "
        f"{'PASS' if step.passed else 'FAIL'} {step.summary}",
        flush=True,
    )
    return step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=float, default=2)
    parser.add_argument("--factor", type=float, default=1.5)
    parser.add_argument("--max-steps", type=int, default=7)
    parser.add_argument("--step-seconds", type=int, default=30)
    parser.add_argument("--targets", nargs="+", default=[GUNICORN, NGINX])
    parser.add_argument("--budget-seconds", type=float, default=900, help="the whole run's time bound")
    args = parser.parse_args(argv)
    try:
        targets = [loadtest.require_loopback_target(target) for target in args.targets]
        rates = step_rates(start=args.start, factor=args.factor, max_steps=args.max_steps)
        if not 10 <= args.step_seconds <= 120:
            raise loadtest.LoadtestError(f"--step-seconds {args.step_seconds} must be within 10..120")
        if not 60 <= args.budget_seconds <= 3600:
            raise loadtest.LoadtestError(f"--budget-seconds {args.budget_seconds:g} must be within 60..3600")
    except loadtest.LoadtestError as error:
        print(f"capacity: {error}", file=sys.stderr)
        return 2
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = loadtest.RUNS_DIR / f"capacity-{stamp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"capacity {stamp}: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} before the run"]
    print(lines[0], flush=True)
    for target in targets:
        measured_floor = floor(target)
        print(f"{target}: {measured_floor}; steps {', '.join(map(str, rates))} shoppers/s, {args.step_seconds} s each")
        lines.append(f"{target}: {measured_floor}")
        try:
            steps = measure(
                target,
                rates=rates,
                seconds=args.step_seconds,
                out_dir=out_dir,
                budget_s=args.budget_seconds / len(targets) - 15,  # less the floor's wrk run
            )
        except loadtest.LoadtestError as error:
            print(f"capacity: {error}", file=sys.stderr)
            return 2
        best = highest_sustained(steps)
        passed = [step for step in steps if step.passed]
        hit = passed[-1].cache_hit_percent if passed else math.nan
        verdict = (
            f"{target}: highest sustained {best} shoppers/s (~{passed[-1].requests_per_s:,.0f} req/s"
            + ("" if math.isnan(hit) else f", HTTP cache hit rate {hit:.1f} %")
            + ")"
            if best is not None
            else f"{target}: even {rates[0]} shoppers/s missed a criterion"
        )
        if best is not None and len(steps) == len(rates) and steps[-1].passed:
            verdict += " (every step passed: raise --max-steps to find the limit)"
        print(verdict, flush=True)
        lines += [f"  {s.rate}/s {'PASS' if s.passed else 'FAIL'} {s.summary}" for s in steps] + [verdict]
    (out_dir / "capacity.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written: {out_dir / 'capacity.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
