"""Run an Artillery load profile against the stack: ``make loadtest PROFILE=smoke`` (docs/load-testing.md).

The profiles (``loadtest/profiles.yml``) are the architecture document's normal, peak, stress
and endurance loads plus a one-minute smoke; the shoppers are ``loadtest/scenarios.yml``. This
module scales a profile by one factor (``SCALE``), exports search queries drawn from the
stack's catalog, issues a partner API key for the run (revoked after), runs Artillery, and
judges its JSON against the criteria (``bench/loadtest_report.py``): it prints the verdict
table, writes ``report.html`` beside the raw JSON and exits 1 when a criterion fails.

    python bench/loadtest.py --profile smoke [--scale 0.05] [--target http://127.0.0.1:8080] [--check]

Exit status: 0 every criterion met, 1 a criterion failed, 2 bad input (unknown profile, a
scale that is not a positive number up to ``MAX_SCALE``, a target off this machine) or the
run could not be made.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import ipaddress
import json
import math
import os
import random
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
LOADTEST_DIR = ROOT / "loadtest"
PROFILES_FILE = LOADTEST_DIR / "profiles.yml"
SCENARIOS_FILE = LOADTEST_DIR / "scenarios.yml"
ARTILLERY_BIN = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "tools/artillery/node_modules/.bin/artillery"
RUNS_DIR = ROOT / "var/loadtest"
# SCALE=4 already turns stress into 80 minutes at up to 4,000 shoppers/s; past it is a typo.
MAX_SCALE = 4.0
QUERY_COUNT = 600
STOP_WORDS = frozenset({"the", "and", "for", "with", "from", "into", "that", "this", "your", "their"})


class LoadtestError(Exception):
    """Bad input or a run that could not be made; the message says which and what to do."""


@dataclass(frozen=True)
class Phase:
    """One Artillery phase: ``duration_s`` seconds of arrivals from ``arrival_rate`` (to ``ramp_to``) per second."""

    name: str
    duration_s: float
    arrival_rate: float
    ramp_to: float | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    phases: tuple[Phase, ...]
    weights: dict[str, int]
    # Rates are multiplied by it: 1.5 for peak, our bar of 1.5x the expected peak.
    rate_factor: float = 1.0

    @property
    def duration_s(self) -> float:
        return sum(phase.duration_s for phase in self.phases)


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    """Every profile in ``loadtest/profiles.yml``; a malformed entry is an error, not a default."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    profiles = {}
    for name, entry in document["profiles"].items():
        try:
            phases = tuple(
                Phase(
                    name=str(phase.get("name", f"phase {index + 1}")),
                    duration_s=float(phase["duration"]),
                    arrival_rate=float(phase["arrivalRate"]),
                    ramp_to=float(phase["rampTo"]) if "rampTo" in phase else None,
                )
                for index, phase in enumerate(entry["phases"])
            )
            weights = {str(scenario): int(weight) for scenario, weight in entry["weights"].items()}
            profiles[name] = Profile(
                name=name,
                description=str(entry.get("description", "")),
                phases=phases,
                weights=weights,
                rate_factor=float(entry.get("rate_factor", 1.0)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise LoadtestError(f"{path}: profile {name!r} is malformed: {error!r}") from error
    return profiles


def parse_scale(text: str) -> float:
    """``SCALE`` as a number in (0, MAX_SCALE]; anything else is refused with the reason."""
    try:
        scale = float(text)
    except (TypeError, ValueError):
        raise LoadtestError(f"SCALE={text!r} is not a number (e.g. SCALE=0.05)") from None
    if not math.isfinite(scale) or scale <= 0:
        raise LoadtestError(f"SCALE={text!r} must be a positive number (e.g. SCALE=0.05)")
    if scale > MAX_SCALE:
        raise LoadtestError(f"SCALE={text!r} is over the limit of {MAX_SCALE:g}")
    return scale


def require_loopback_target(url: str) -> str:
    """The target without a trailing slash, or an error: load goes to this machine only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadtestError(f"TARGET={url!r} is not an http(s) URL (e.g. http://127.0.0.1:8080)")
    host = parts.hostname
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise LoadtestError(f"TARGET={url!r} refused: load tests only target loopback (127.0.0.0/8, ::1, localhost)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise LoadtestError(f"TARGET={url!r} must be a bare origin such as http://127.0.0.1:8080")
    return url.rstrip("/")


def scaled_rate(rate: float, scale: float) -> int:
    """Artillery counts arrivals per second in whole numbers; a scaled profile keeps at least one."""
    return max(1, round(rate * scale))


def scaled_phases(profile: Profile, scale: float) -> list[dict[str, Any]]:
    """Artillery ``config.phases`` for ``profile`` with durations and rates times ``scale``
    (rates also times the profile's ``rate_factor``); each phase lasts at least a second."""
    phases = []
    for phase in profile.phases:
        entry: dict[str, Any] = {
            "name": phase.name,
            "duration": max(1, round(phase.duration_s * scale)),
            "arrivalRate": scaled_rate(phase.arrival_rate * profile.rate_factor, scale),
        }
        if phase.ramp_to is not None:
            entry["rampTo"] = scaled_rate(phase.ramp_to * profile.rate_factor, scale)
        phases.append(entry)
    return phases


def build_script(
    *, phases: Sequence[dict[str, Any]], weights: dict[str, int], target: str, payload_dir: Path
) -> dict[str, Any]:
    """``loadtest/scenarios.yml`` with the run's target, phases and weights, its payload files in
    ``payload_dir``; only the scenarios the profile weighs (an unknown scenario name is an error)."""
    script: dict[str, Any] = yaml.safe_load(SCENARIOS_FILE.read_text(encoding="utf-8"))
    known = {scenario["name"] for scenario in script["scenarios"]}
    unknown = sorted(set(weights) - known)
    if unknown:
        raise LoadtestError(f"profile weighs unknown scenario(s) {unknown}; known: {sorted(known)}")
    script["config"]["target"] = target
    script["config"]["phases"] = list(phases)
    script["config"]["processor"] = str(LOADTEST_DIR / "processor.js")
    for entry in script["config"]["payload"]:
        entry["path"] = str(payload_dir / entry["path"])
    scenarios = []
    for scenario in script["scenarios"]:
        if weights.get(scenario["name"], 0) > 0:
            scenarios.append({**scenario, "weight": weights[scenario["name"]]})
    script["scenarios"] = scenarios
    return script


def catalog_queries(*, titles: Sequence[str], authors: Sequence[str], count: int, seed: int = 16) -> list[str]:
    """What shoppers type: whole titles (40 %), author names (30 %) and single title words (30 %)."""
    rng = random.Random(seed)
    words = sorted(
        {word for title in titles for word in re.findall(r"[A-Za-z]{4,}", title) if word.lower() not in STOP_WORDS}
    )
    pools = [(list(titles), 0.4), (list(authors), 0.3), (words, 0.3)]
    queries: list[str] = []
    for pool, share in pools:
        if pool:
            queries += rng.choices(pool, k=max(1, round(count * share)))
    if not queries:
        raise LoadtestError("the catalog has no titles or authors to search for: seed it first (make seed)")
    rng.shuffle(queries)
    return queries


def write_queries(path: Path, queries: Iterable[str]) -> int:
    """The payload CSV (a header, one query a row); returns the row count."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["query"])
        for query in queries:
            writer.writerow([" ".join(query.split())])
            rows += 1
    return rows


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def export_catalog_queries(path: Path) -> int:
    """Queries drawn from the stack's own catalog (DATABASE_URL): random titles and authors."""
    _django()
    from catalog.models import Author, Book

    titles = list(Book.objects.order_by("?").values_list("title", flat=True)[:QUERY_COUNT])
    authors = list(Author.objects.order_by("?").values_list("name", flat=True)[: QUERY_COUNT // 2])
    return write_queries(path, catalog_queries(titles=titles, authors=authors, count=QUERY_COUNT))


def catalog_size() -> int:
    _django()
    from catalog.models import Book

    return Book.objects.count()


# Kept between runs (hashing a password is slow on purpose); sign-in needs nothing else.
CUSTOMER_COUNT = 20
CUSTOMER_PASSWORD = "loadtest-shopper-password-0123"


def ensure_customers(count: int = CUSTOMER_COUNT) -> list[tuple[str, str]]:
    """The accounts checkout shoppers sign in with (``loadtest-shopper-N``), made when missing."""
    _django()
    from django.contrib.auth import get_user_model

    users = get_user_model()._default_manager
    names = [f"loadtest-shopper-{number}" for number in range(1, count + 1)]
    existing = set(users.filter(username__in=names).values_list("username", flat=True))
    for name in names:
        if name not in existing:
            users.create_user(username=name, email=f"{name}@example.test", password=CUSTOMER_PASSWORD)
    return [(name, CUSTOMER_PASSWORD) for name in names]


def write_customers(path: Path, customers: Iterable[tuple[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["username", "password"])
        writer.writerows(customers)


def issue_api_key() -> tuple[str, Any]:
    """A partner key on the internal plan (never throttled) for the partner_api shoppers."""
    _django()
    from partners.models import Partner
    from partners.plans import Plan
    from partners.services import api_key_create

    partner, _ = Partner.objects.get_or_create(name="Load test (internal)", defaults={"plan": Plan.INTERNAL})
    issued = api_key_create(partner=partner, name="loadtest run")
    return issued.raw_key, issued.api_key


def revoke_api_key(api_key: Any) -> None:
    from partners.services import api_key_revoke

    api_key_revoke(api_key=api_key)


def run_artillery(script: dict[str, Any], run_dir: Path, *, api_key: str, timeout_s: float) -> Path:
    """Run Artillery on ``script`` in ``run_dir``; the raw JSON's path. Its console output
    goes to ``artillery.log`` there (the verdict table is ours)."""
    if not ARTILLERY_BIN.exists():
        raise LoadtestError(f"Artillery is not installed at {ARTILLERY_BIN}: run `scripts/tools.sh artillery`")
    script_path = run_dir / "script.yml"
    script_path.write_text(yaml.safe_dump(script, sort_keys=False), encoding="utf-8")
    raw = run_dir / "artillery.json"
    env = {**os.environ, "LOADTEST_API_KEY": api_key, "ARTILLERY_DISABLE_TELEMETRY": "true", "NO_COLOR": "1"}
    with (run_dir / "artillery.log").open("w", encoding="utf-8") as log:
        try:
            completed = subprocess.run(
                [str(ARTILLERY_BIN), "run", "--output", str(raw), str(script_path)],
                cwd=run_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise LoadtestError(
                f"Artillery ran past {timeout_s:.0f} s and was stopped (see {run_dir}/artillery.log)"
            ) from error
    if completed.returncode != 0 or not raw.exists():
        raise LoadtestError(f"Artillery exited with {completed.returncode}; see {run_dir}/artillery.log")
    return raw


def run_profile(*, profile: Profile, scale: float, target: str, out_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Scale, run and return the run directory and Artillery's raw JSON (parsed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    books = catalog_size()
    if books == 0:
        raise LoadtestError("the stack's catalog is empty: run `make seed` (make loadtest does)")
    export_catalog_queries(out_dir / "queries.csv")
    write_customers(out_dir / "customers.csv", ensure_customers())
    phases = scaled_phases(profile, scale)
    script = build_script(phases=phases, weights=profile.weights, target=target, payload_dir=out_dir)
    raw_key, api_key = issue_api_key()
    try:
        # A shopper's flow lasts up to ~20 s past the last arrival; Artillery's own start takes ~10 s.
        raw = run_artillery(script, out_dir, api_key=raw_key, timeout_s=sum(p["duration"] for p in phases) + 180)
    finally:
        revoke_api_key(api_key)
    parsed: dict[str, Any] = json.loads(raw.read_text(encoding="utf-8"))
    return out_dir, parsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--scale", default="1")
    parser.add_argument("--target", default="http://127.0.0.1:8080")
    parser.add_argument("--out-dir", type=Path, default=None, help="default var/loadtest/<profile>-<UTC stamp>")
    parser.add_argument("--check", action="store_true", help="only check the arguments (make loadtest does, first)")
    args = parser.parse_args(argv)
    from bench import loadtest_report

    try:
        profiles = load_profiles()
        if args.profile not in profiles:
            raise LoadtestError(f"PROFILE={args.profile!r} is not a profile; known: {', '.join(profiles)}")
        profile = profiles[args.profile]
        scale = parse_scale(args.scale)
        target = require_loopback_target(args.target)
        if args.check:
            return 0
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        out_dir = (args.out_dir or RUNS_DIR / f"{profile.name}-{stamp}").resolve()
        print(
            f"loadtest: {profile.name} at SCALE={scale:g} against {target} "
            f"({sum(p['duration'] for p in scaled_phases(profile, scale))} s of arrivals) -> {out_dir}",
            flush=True,
        )
        run_dir, raw = run_profile(profile=profile, scale=scale, target=target, out_dir=out_dir)
    except LoadtestError as error:
        print(f"loadtest: {error}", file=sys.stderr)
        return 2
    evaluation = loadtest_report.evaluate(raw)
    title = f"{profile.name} at SCALE={scale:g} against {target}"
    report = loadtest_report.write_report(run_dir / "report.html", raw=raw, evaluation=evaluation, title=title)
    print(loadtest_report.verdict_table(evaluation))
    print(f"report: {report}\nraw JSON: {run_dir / 'artillery.json'}")
    return 0 if evaluation.passed else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
