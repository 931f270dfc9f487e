"""bench/capacity.py: the rising steps and the highest rate that met every criterion."""

from __future__ import annotations

import math

import pytest

from bench import capacity
from bench.capacity import Step
from bench.loadtest import LoadtestError


def _step(rate: int, passed: bool) -> Step:
    return Step(rate=rate, passed=passed, requests_per_s=rate * 4.0, summary="", cache_hit_percent=math.nan)


def test_steps_rise_by_the_factor_and_never_repeat_a_rate():
    assert capacity.step_rates(start=4, factor=1.5, max_steps=7) == [4, 6, 9, 14, 20, 30, 46]
    assert capacity.step_rates(start=1, factor=1.1, max_steps=4) == [1, 2, 3, 4]


@pytest.mark.parametrize(("start", "factor", "steps"), [(0, 1.5, 3), (4, 1.0, 3), (4, 0.5, 3), (4, 1.5, 0)])
def test_steps_that_would_not_rise_or_run_are_refused(start, factor, steps):
    with pytest.raises(LoadtestError, match="bad capacity steps"):
        capacity.step_rates(start=start, factor=factor, max_steps=steps)


def test_the_figure_is_the_last_rate_before_the_first_failure():
    steps = [_step(4, True), _step(6, True), _step(9, False), _step(14, True)]

    assert capacity.highest_sustained(steps) == 6


def test_no_figure_when_even_the_first_step_failed():
    assert capacity.highest_sustained([_step(4, False)]) is None


def test_a_remote_target_is_refused_before_any_step(capsys):
    assert capacity.main(["--targets", "http://10.0.0.1:8100"]) == 2

    assert "refused: load tests only target loopback" in capsys.readouterr().err


@pytest.mark.parametrize("seconds", ["5", "600"])
def test_a_step_too_short_to_be_steady_or_too_long_to_bound_is_refused(capsys, seconds):
    assert capacity.main(["--step-seconds", seconds]) == 2

    assert f"--step-seconds {seconds} must be within 10..120" in capsys.readouterr().err


def test_a_failed_step_is_run_once_more_and_two_failures_running_end_the_search(monkeypatch, tmp_path):
    outcomes = {4: [True], 6: [False, True], 9: [False, False], 14: [True]}
    runs = []

    def fake_step(target, *, rate, seconds, run_dir):
        runs.append((rate, run_dir.name))
        return _step(rate, outcomes[rate].pop(0))

    monkeypatch.setattr(capacity, "_measure_step", fake_step)

    steps = capacity.measure("http://127.0.0.1:8100", rates=[4, 6, 9, 14], seconds=30, out_dir=tmp_path)

    assert runs == [(4, "8100-4"), (6, "8100-6"), (6, "8100-6-again"), (9, "8100-9"), (9, "8100-9-again")]
    assert [(step.rate, step.passed) for step in steps] == [(4, True), (6, True), (9, False)]
    assert capacity.highest_sustained(steps) == 6


def test_no_step_starts_that_would_end_past_the_time_bound(monkeypatch, tmp_path):
    runs = []

    def fake_step(target, *, rate, seconds, run_dir):
        runs.append(rate)
        return _step(rate, True)

    monkeypatch.setattr(capacity, "_measure_step", fake_step)
    clock = iter([0.0, 0.0, 60.0, 130.0])

    steps = capacity.measure(
        "http://127.0.0.1:8100",
        rates=[2, 3, 4],
        seconds=30,
        out_dir=tmp_path,
        budget_s=130,
        clock=lambda: next(clock),
    )

    assert runs == [2, 3]  # at 130 s a third run (30 s + 35 s) would end at 195 s
    assert [step.rate for step in steps] == [2, 3]


@pytest.mark.parametrize("budget", ["10", "99999"])
def test_a_time_bound_too_short_or_too_long_is_refused(capsys, budget):
    assert capacity.main(["--budget-seconds", budget]) == 2

    assert "--budget-seconds" in capsys.readouterr().err
