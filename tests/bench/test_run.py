"""bench/run.py: order, the dated header, and a non-zero exit when a run was not a valid measurement."""

from __future__ import annotations

import datetime
import sys
import types
from dataclasses import dataclass, field

import pytest

from bench import run as runner


@dataclass
class _Line:
    text: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        return self.text


@pytest.fixture
def fake_benchmarks(monkeypatch, tmp_path):
    """Two benchmark modules of this test (one clean, one whose run a breaker spoiled), results under tmp_path."""
    clean = types.ModuleType("bench.bench_clean")
    clean.run = lambda base_url: [_Line(f"clean: {base_url}", notes=["  PASS (p95 < 1 ms)"])]
    spoiled = types.ModuleType("bench.bench_spoiled")
    spoiled.run = lambda base_url: [_Line("spoiled", problems=["spoiled: the search breaker went open during the run"])]
    broken = types.ModuleType("bench.bench_broken")

    def crash(base_url):
        raise ConnectionRefusedError("nothing on 8100")

    broken.run = crash
    for module in (clean, spoiled, broken):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(runner, "available", lambda: ["clean", "spoiled", "broken"])
    monkeypatch.setattr(runner, "stack_answers", lambda base_url: None)
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:8190")
    return tmp_path


def test_everything_runs_in_an_order_that_ends_with_search():
    names = runner.available()
    assert names[0] == "pages"
    assert names[-1] == "search"
    assert set(names) >= {"pages", "catalog", "cart", "api", "search"}


def test_a_clean_run_exits_zero_and_appends_dated_results(fake_benchmarks, capsys):
    assert runner.main(["clean"]) == 0
    written = (fake_benchmarks / "var" / "bench" / "results.txt").read_text()
    assert "clean: http://127.0.0.1:8190\n  PASS (p95 < 1 ms)\n" in written
    assert "#   machine: " in written
    assert "#   commit " in written
    assert "every run was a valid measurement" in written


def test_a_run_with_a_problem_fails_loudly_and_the_others_still_report(fake_benchmarks, capsys):
    assert runner.main(["spoiled", "clean", "broken"]) == 1
    out, err = capsys.readouterr()
    assert "FAIL: spoiled: the search breaker went open during the run" in err
    assert "FAIL: bench broken: could not run: ConnectionRefusedError: nothing on 8100" in err
    assert "clean: http://127.0.0.1:8190" in out
    written = (fake_benchmarks / "var" / "bench" / "results.txt").read_text()
    assert "# INVALID: 2 problem(s) above" in written


def test_an_unknown_benchmark_is_refused_before_anything_runs(fake_benchmarks, capsys):
    assert runner.main(["clean", "nope"]) == 2
    assert "unknown benchmark(s): nope" in capsys.readouterr().err
    assert not (fake_benchmarks / "var").exists()


def test_the_header_names_date_machine_and_commit():
    lines = runner.header(datetime.datetime(2026, 12, 2, 6, 0, tzinfo=datetime.UTC), ["pages"])
    assert lines[0].startswith("# 2026-12-02 06:00 UTC on ")
    assert lines[0].endswith("make bench NAME=pages")
    assert lines[1].startswith("#   machine: ")
    assert "load average" in lines[1]
    assert lines[2] != "#   commit unknown"
    assert lines[3].startswith("#   celery queue: ")


def test_the_queue_length_is_read_from_the_broker(settings):
    import os

    import redis

    queue = f"bench-test-queue-{os.getpid()}"  # a list of this test only, in the tests' Redis
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(queue, "a", "b", "c")
    try:
        assert runner.pending_tasks(settings.REDIS_URL, queue) == (
            "3 task(s) waiting (a worker will be busy during the runs)"
        )
    finally:
        client.delete(queue)
    assert runner.pending_tasks(settings.REDIS_URL, queue) == "0 task(s) waiting"


def test_without_a_redis_broker_the_queue_is_not_read():
    assert runner.pending_tasks("") == "no Redis broker configured"
    assert runner.pending_tasks("memory://") == "no Redis broker configured"


def test_an_unreachable_broker_leaves_the_queue_unknown(unused_tcp_port_url):
    port = unused_tcp_port_url.rsplit(":", 1)[1]
    assert runner.pending_tasks(f"redis://127.0.0.1:{port}/0") == "unknown (ConnectionError)"


def test_nothing_runs_when_the_stack_does_not_answer(fake_benchmarks, monkeypatch, capsys):
    monkeypatch.setattr(runner, "stack_answers", lambda base_url: f"{base_url}/health did not answer (refused)")
    assert runner.main(["clean"]) == 2
    assert "start the stack first (`make up && make seed`)" in capsys.readouterr().err
    assert not (fake_benchmarks / "var").exists()


def test_the_stack_check_names_what_answered(unused_tcp_port_url):
    assert runner.stack_answers(unused_tcp_port_url, timeout_s=1).startswith(
        f"{unused_tcp_port_url}/health did not answer"
    )


@pytest.fixture
def unused_tcp_port_url():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
