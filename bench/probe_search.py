"""What one never-asked search costs each search backend, asked directly (no HTTP, no cache).

    env <STACK_ENV of scripts/env.mk, with BOOKS=...> .venv/bin/python bench/probe_search.py [COUNT] [SEED]

Draws ``2 * COUNT`` different searches as the benchmark's never-asked runs do
(``bench.bench_search``), then asks OpenSearch ``COUNT`` of them and the Postgres fallback
the other ``COUNT``, one at a time, through each backend's ``search()`` (the results page's
query, facets and cards, without the page). Every kept answer is bypassed: the process
uses a cache key prefix of its own. Prints p50/p95/p99/max and how many books matched.
Needs no stack, only the catalog's database and index, so it measures the engine while
another stack is up, or before and after a change to the mapping.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from search.params import SearchSpec
    from search.results import SearchResult

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Searches that warm the node's JIT before the measured ones (not in any sample).
WARM_UP_QUERIES = ["garden", "winter storm", "river", "history of music", "secret island"]


def describe(name: str, latencies_ms: list[float], matches: list[int]) -> str:
    """``opensearch: n=200 p50=… ms p95=… ms p99=… ms max=… ms; matches median …, max …``."""
    ordered = sorted(latencies_ms)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    return (
        f"{name}: n={len(ordered)} p50={at(0.50):.1f} ms p95={at(0.95):.1f} ms p99={at(0.99):.1f} ms"
        f" max={ordered[-1]:.1f} ms; matches median {statistics.median(matches):,.0f}, max {max(matches):,}"
    )


def measure(search: Callable[[SearchSpec], SearchResult], queries: list[str]) -> tuple[list[float], list[int]]:
    """(latency in ms, books matched) of each query, asked one at a time as the results page asks it."""
    from search.engine import search_spec

    latencies_ms, matches = [], []
    for query in queries:
        spec, _ = search_spec(query=query)
        started = time.perf_counter()
        matches.append(search(spec).total)
        latencies_ms.append((time.perf_counter() - started) * 1000)
    return latencies_ms, matches


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 100
    seed = int(argv[1]) if len(argv) > 1 else time.time_ns() % 2**31
    # Before Django reads the settings: no answer kept by anyone else, or by an earlier probe.
    os.environ["CACHE_KEY_PREFIX"] = f"probe-{uuid.uuid4().hex[:12]}"
    from bench.bench_search import _never_asked_sample, _require_catalog

    _require_catalog()
    from search.backends import opensearch, postgres
    from search.engine import search_spec

    queries = [parse_qs(urlsplit(url).query)["q"][0] for url in _never_asked_sample(2 * count, seed)]
    for query in WARM_UP_QUERIES:
        opensearch.search(search_spec(query=query)[0])
    print(f"{count} never-asked searches per backend, one at a time (BENCH_NEVER_ASKED_SEED={seed})", flush=True)
    backends = (("opensearch", opensearch.search, queries[:count]), ("fallback", postgres.search, queries[count:]))
    for name, search, asked in backends:
        latencies_ms, matches = measure(search, asked)
        print(describe(name, latencies_ms, matches), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
