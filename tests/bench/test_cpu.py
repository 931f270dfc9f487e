"""bench/cpu.py: CPU time of the stack's process trees, from /proc."""

from __future__ import annotations

import os

import pytest

from bench.cpu import (
    TICKS_PER_SECOND,
    CpuSnapshot,
    describe_usage,
    is_backend_of,
    parse_stat,
    stack_database,
    tree_cpu_seconds,
)


def test_it_reads_parent_and_cpu_seconds_from_a_stat_line():
    line = (
        f"4242 (gunicorn: worker) S 4000 4242 4242 0 -1 4194560 1 0 0 0 {TICKS_PER_SECOND * 3} {TICKS_PER_SECOND} 0 0"
    )
    assert parse_stat(line) == (4000, 4.0)


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields():
    line = "77 (a (weird) name) R 1 77 77 0 -1 0 0 0 0 0 100 50 0 0"
    assert parse_stat(line) == (1, 150 / TICKS_PER_SECOND)


def test_a_tree_holds_the_root_and_every_descendant_only():
    processes = {10: (1, 1.0), 11: (10, 2.0), 12: (11, 4.0), 20: (1, 100.0)}
    assert tree_cpu_seconds(processes, 10) == {10: 1.0, 11: 2.0, 12: 4.0}
    assert tree_cpu_seconds(processes, 99) == {}


def test_usage_is_cores_and_milliseconds_per_request():
    before = CpuSnapshot({"gunicorn": {1: 0.5, 2: 9.5}, "postgres": {3: 5.0}, "load generator": {0: 1.0}})
    after = CpuSnapshot({"gunicorn": {1: 0.5, 2: 17.9}, "postgres": {3: 7.1}, "load generator": {0: 4.0}})
    line = describe_usage(before, after, elapsed_s=10, requests=1000)
    assert line == (
        "cpu: gunicorn 0.84 cores (8.4 ms/request), load generator 0.30 cores (3.0 ms/request),"
        f" postgres 0.21 cores (2.1 ms/request) of {os.cpu_count()} cores"
    )


def test_a_recycled_worker_makes_the_figure_a_lower_bound_not_zero():
    before = CpuSnapshot({"gunicorn": {1: 0.1, 2: 500.0}})
    after = CpuSnapshot({"gunicorn": {1: 0.1, 3: 2.0}})  # worker 2 exited, worker 3 was born
    line = describe_usage(before, after, elapsed_s=10, requests=1000)
    assert line.startswith("cpu: gunicorn at least 0.20 cores (2.0 ms/request) of ")
    assert line.endswith("(a process exited during the run, e.g. a recycled worker: its share is missing)")


@pytest.mark.parametrize(("elapsed_s", "requests"), [(0, 10), (10, 0)])
def test_usage_of_an_empty_run_is_not_measured(elapsed_s, requests):
    assert (
        describe_usage(CpuSnapshot({}), CpuSnapshot({}), elapsed_s=elapsed_s, requests=requests) == "cpu: not measured"
    )


def test_usage_without_stack_processes_says_so():
    generator = {"load generator": {0: 1.0}}
    line = describe_usage(CpuSnapshot(generator), CpuSnapshot(generator), elapsed_s=1, requests=1)
    assert line == "cpu: not measured (no gunicorn or Postgres pid file found)"


def test_a_snapshot_finds_this_machines_processes_through_their_pid_files(tmp_path, monkeypatch):
    (tmp_path / "gunicorn.pid").write_text(f"{os.getpid()}\n")
    monkeypatch.setenv("RUN_DIR", str(tmp_path))
    monkeypatch.setenv("PG_DATA", str(tmp_path / "no-postgres-here"))
    snapshot = CpuSnapshot.take()
    assert set(snapshot.seconds) == {"gunicorn", "load generator"}
    assert snapshot.seconds["gunicorn"][os.getpid()] > 0  # this test process has used some CPU


@pytest.mark.parametrize(
    ("command_line", "serves"),
    [
        ("postgres: cloudshelf cloudshelf 127.0.0.1(46236) idle", True),
        ("postgres: cloudshelf test_cloudshelf_deep 127.0.0.1(46192) idle in transaction", False),
        ("postgres: cloudshelf cloudshelf_bench 127.0.0.1(1) idle", False),
        ("postgres: checkpointer ", False),
        ("postgres: autovacuum worker cloudshelf", False),
        ("", False),
    ],
)
def test_only_backends_of_the_stacks_database_count(command_line, serves):
    assert is_backend_of("cloudshelf", command_line) is serves


def test_the_stacks_database_comes_from_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@127.0.0.1:55432/cloudshelf_other")
    assert stack_database() == "cloudshelf_other"
    monkeypatch.setenv("DATABASE_URL", "")
    assert stack_database() == "cloudshelf"
