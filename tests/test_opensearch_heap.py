"""The OpenSearch heap ``scripts/opensearch.sh`` chooses (``scripts/opensearch/heap.sh``), on fake machines.

Half of what the machine has beyond the stack's 3,584 MB reserve, rounded down to 256 MB,
at least 512 MB and at most 8 GB; a lower cgroup limit counts as the machine's memory;
``OPENSEARCH_HEAP`` overrides.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

HEAP_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "opensearch" / "heap.sh"


def _meminfo(tmp_path: Path, total_mb: int) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {total_mb * 1024} kB\nMemFree:         1024 kB\n")
    return path


def _heap(meminfo: Path, cgroup_max: Path, *, override: str = "") -> tuple[str, str]:
    """(heap, reason) as the script prints them for this machine."""
    env = {**os.environ, "OPENSEARCH_HEAP": override}
    printed = subprocess.run(
        ["bash", str(HEAP_SCRIPT), str(meminfo), str(cgroup_max)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout.strip()
    heap, _, reason = printed.partition(" ")
    return heap, reason


@pytest.mark.parametrize(
    ("total_mb", "expected"),
    [
        (2048, "512m"),  # less than the reserve: the minimum
        (4096, "512m"),  # (4,096 - 3,584) / 2 = 256: the minimum
        (8192, "2304m"),  # (8,192 - 3,584) / 2 = 2,304
        (7900, "2g"),  # 2,158 rounded down to 256 MB
        (16384, "6400m"),  # (16,384 - 3,584) / 2, a multiple of 256 MB
        (19968, "8g"),  # exactly the ceiling
        (24105, "8g"),  # this dev box: 10,260, capped
        (262144, "8g"),  # a big server still gets the shared-box ceiling without OPENSEARCH_HEAP
    ],
)
def test_it_gives_half_the_memory_left_rounded_and_bounded(tmp_path, total_mb, expected):
    heap, _ = _heap(_meminfo(tmp_path, total_mb), tmp_path / "no-cgroup")

    assert heap == expected


def test_it_says_why_it_chose_the_heap(tmp_path):
    _, reason = _heap(_meminfo(tmp_path, 24105), tmp_path / "no-cgroup")

    assert reason == (
        "24105 MB memory - 3584 MB reserved for Postgres, Redis and the app = 20521 MB; half for the heap, "
        "capped at the 8192 MB ceiling of a shared box (OPENSEARCH_HEAP overrides)"
    )


def test_it_says_when_it_raised_the_heap_to_the_minimum(tmp_path):
    _, reason = _heap(_meminfo(tmp_path, 4096), tmp_path / "no-cgroup")

    assert reason.endswith("half for the heap, raised to the 512 MB minimum")


def test_a_lower_cgroup_limit_is_the_machines_memory(tmp_path):
    cgroup_max = tmp_path / "memory.max"
    cgroup_max.write_text(f"{8192 * 1024 * 1024}\n")

    heap, reason = _heap(_meminfo(tmp_path, 65536), cgroup_max)

    assert (heap, reason.split(" ")[0]) == ("2304m", "8192")


def test_an_unlimited_cgroup_leaves_the_machines_memory(tmp_path):
    cgroup_max = tmp_path / "memory.max"
    cgroup_max.write_text("max\n")

    heap, _ = _heap(_meminfo(tmp_path, 8192), cgroup_max)

    assert heap == "2304m"


def test_opensearch_heap_overrides_the_machine(tmp_path):
    heap, reason = _heap(_meminfo(tmp_path, 24105), tmp_path / "no-cgroup", override="2g")

    assert (heap, reason) == ("2g", "set by OPENSEARCH_HEAP")


def test_an_unreadable_meminfo_gives_the_minimum(tmp_path):
    heap, reason = _heap(tmp_path / "no-meminfo", tmp_path / "no-cgroup")

    assert heap == "512m"
    assert reason.startswith("the machine's memory is unknown")
