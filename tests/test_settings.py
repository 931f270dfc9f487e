"""The settings module: typed environment readers and the production-shaped deploy check."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloudshelf.env import ImproperlyConfiguredEnv, env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("Off", False), ("no", False)])
def test_env_bool_reads_common_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG") is expected


def test_env_bool_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfiguredEnv, match="SOME_FLAG"):
        env_bool("SOME_FLAG")


def test_env_int_rejects_non_numbers_and_values_below_minimum(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12abc")
    with pytest.raises(ImproperlyConfiguredEnv, match="not an integer"):
        env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "-3")
    with pytest.raises(ImproperlyConfiguredEnv, match="below the minimum"):
        env_int("SOME_NUMBER", 1, minimum=0)


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("SOME_LIST", " a.example, ,b.example ")
    assert env_list("SOME_LIST") == ["a.example", "b.example"]


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_deploy_check_passes_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "HTTPS": "1",
        "SECRET_KEY": "a-long-random-production-secret-key-7f3a9c1e5b2d8f4a6c0e9b7d3f1a5c8e",
        "ALLOWED_HOSTS": "shop.example.com",
    }
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_production_shape_refuses_to_start_without_a_secret_key():
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    env["DEBUG"] = "0"
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
