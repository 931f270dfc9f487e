"""The settings module: typed environment readers and the production-shaped deploy check."""

import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab

from cloudshelf.env import ImproperlyConfiguredEnv, env_bool, env_int, env_json_object, env_list

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_SECRET_KEY = "a-long-random-production-secret-key-7f3a9c1e5b2d8f4a6c0e9b7d3f1a5c8e"


def settings_for(monkeypatch: pytest.MonkeyPatch, **environment: str | None) -> dict[str, Any]:
    """The settings module's values for this environment, evaluated afresh in this process.

    ``None`` unsets a variable. The live settings (``django.conf.settings``) are untouched.
    """
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "cloudshelf" / "settings.py"), run_name="cloudshelf_settings_probe")


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


def test_env_json_object_reads_an_object_and_defaults_when_unset_or_blank(monkeypatch):
    monkeypatch.setenv("SOME_JSON", '{"bucket": "b", "compress": true}')
    assert env_json_object("SOME_JSON", {}) == {"bucket": "b", "compress": True}
    monkeypatch.setenv("SOME_JSON", "  ")
    assert env_json_object("SOME_JSON", {"location": "x"}) == {"location": "x"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{bucket: b}", "not valid JSON"),
        ('["b"]', "not a JSON object"),
        ("42", "not a JSON object"),
        ("{" * 5000, "JSON"),
    ],
)
def test_env_json_object_rejects_anything_but_an_object(monkeypatch, raw, reason):
    monkeypatch.setenv("SOME_JSON", raw)
    with pytest.raises(ImproperlyConfiguredEnv, match=reason):
        env_json_object("SOME_JSON", {})


def test_search_snapshots_are_scheduled_unless_turned_off_and_a_bad_hour_stops_start_up(monkeypatch):
    scheduled = settings_for(monkeypatch, SEARCH_SNAPSHOT_REPOSITORY=None, SEARCH_SNAPSHOT_HOURS="2,14")
    assert scheduled["CELERY_BEAT_SCHEDULE"]["search-index-snapshot"]["schedule"] == crontab(hour="2,14", minute=23)
    assert (
        "search-index-snapshot" not in settings_for(monkeypatch, SEARCH_SNAPSHOT_REPOSITORY="")["CELERY_BEAT_SCHEDULE"]
    )
    with pytest.raises(ValueError, match="25"):
        settings_for(monkeypatch, SEARCH_SNAPSHOT_REPOSITORY=None, SEARCH_SNAPSHOT_HOURS="25")


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_deploy_check_passes_with_production_settings():
    env = {key: value for key, value in os.environ.items() if key not in {"ALLOW_INSECURE_HTTP", "DEBUG"}}
    env |= {"HTTPS": "1", "SECRET_KEY": PRODUCTION_SECRET_KEY, "ALLOWED_HOSTS": "shop.example.com"}
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


def production(monkeypatch: pytest.MonkeyPatch, **environment: str | None) -> dict[str, Any]:
    """``settings_for`` a production shape: Postgres, DEBUG off, plain HTTP unless ``environment`` says."""
    base: dict[str, str | None] = {
        "DATABASE_URL": "postgres://shop:secret@db.internal:5432/cloudshelf",
        "DATABASE_REPLICA_URL": None,
        "DEBUG": None,
        "SECRET_KEY": PRODUCTION_SECRET_KEY,
        "HTTPS": None,
        "ALLOW_INSECURE_HTTP": None,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": None,
        "SECURE_HSTS_PRELOAD": None,
    }
    return settings_for(monkeypatch, **(base | environment))


def test_production_shape_refuses_to_start_over_plain_http(monkeypatch):
    with pytest.raises(ImproperlyConfiguredEnv) as refusal:
        production(monkeypatch)
    message = str(refusal.value)
    assert "set HTTPS=1" in message
    assert "ALLOW_INSECURE_HTTP=1" in message
    assert "cookies" in message  # and why


@pytest.mark.parametrize("environment", [{"HTTPS": "1"}, {"ALLOW_INSECURE_HTTP": "1"}, {"DEBUG": "1"}])
def test_production_shape_starts_over_https_or_when_plain_http_is_explicitly_allowed(monkeypatch, environment):
    values = production(monkeypatch, **environment)
    assert values["SESSION_COOKIE_SECURE"] is (environment.get("HTTPS") == "1")


def test_the_embedded_default_needs_neither_https_nor_the_allowance(monkeypatch, tmp_path):
    values = production(monkeypatch, DATABASE_URL=None, DATA_DIR=str(tmp_path))
    assert values["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert values["HTTPS"] is False


def test_https_turns_on_hsts_for_this_host_only(monkeypatch):
    values = production(monkeypatch, HTTPS="1")
    assert values["SECURE_HSTS_SECONDS"] == 60 * 60 * 24 * 365
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert values["SECURE_HSTS_PRELOAD"] is False


def test_hsts_covers_subdomains_and_asks_for_preload_only_when_told(monkeypatch):
    values = production(monkeypatch, HTTPS="1", SECURE_HSTS_INCLUDE_SUBDOMAINS="1", SECURE_HSTS_PRELOAD="1")
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True


@pytest.mark.slow
def test_production_shape_without_https_refuses_to_start_a_command():
    env = {key: value for key, value in os.environ.items() if key not in {"ALLOW_INSECURE_HTTP", "HTTPS", "DEBUG"}}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfiguredEnv" in result.stderr
    assert "set HTTPS=1" in result.stderr


def test_the_scheme_header_defaults_to_x_forwarded_proto(monkeypatch):
    values = production(monkeypatch, HTTPS="1", PROXY_SSL_HEADER=None)
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


def test_behind_cloudfront_the_scheme_header_is_cloudfronts_own(monkeypatch):
    values = production(monkeypatch, HTTPS="1", PROXY_SSL_HEADER="CloudFront-Forwarded-Proto")
    assert values["SECURE_PROXY_SSL_HEADER"] == ("HTTP_CLOUDFRONT_FORWARDED_PROTO", "https")


@pytest.mark.parametrize("header", ["", "X Forwarded", "X-Forwarded-Proto\r\nX-Evil: 1", "H" * 65, "Proto:https"])
def test_a_scheme_header_that_is_not_a_header_name_is_refused(monkeypatch, header):
    with pytest.raises(ImproperlyConfiguredEnv, match="PROXY_SSL_HEADER"):
        production(monkeypatch, HTTPS="1", PROXY_SSL_HEADER=header)
