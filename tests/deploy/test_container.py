"""The production image (Dockerfile, .dockerignore, scripts/container.sh), tested without Docker.

Docker cannot run on this machine, so the image is checked where it can be: the Dockerfile
lints clean (hadolint) and is parsed here for what matters (stages, pinned bases, non-root
user, healthcheck, entrypoint); the build context is what .dockerignore lets through; and the
exact command each container runs (``scripts/container.sh web|worker|beat``) is started from
the repository against the test services, answers, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_redis import get_redis_connection

from catalog.models import Book
from tests.factories import BookFactory
from tests.workers import database_url_of_this_test

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CONTAINER_SH = ROOT / "scripts" / "container.sh"
VENV = ROOT / ".venv"
IMAGE_ROOT = "/app"  # where the Dockerfile copies the repository
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# The context CDK copies into cdk.out for every synth; far more means something leaked in.
MAX_CONTEXT_BYTES = 10 * 1024 * 1024


# --- The Dockerfile, parsed ---------------------------------------------------------------


@dataclass
class Stage:
    name: str
    base: str
    user: str = "root"
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    instructions: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continued lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, f"the Dockerfile ends inside a continued line: {pending!r}"
    return instructions


def exec_form(arguments: str) -> list[str]:
    """ENTRYPOINT/CMD arguments; only the JSON (exec) form, so signals reach the process itself."""
    value = json.loads(arguments)
    assert isinstance(value, list), arguments
    assert all(isinstance(item, str) for item in value), arguments
    return value


def env_pairs(arguments: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(arguments))


def dockerfile_stages(text: str) -> dict[str, Stage]:
    """Every stage with what it runs, following Docker's inheritance from a parent stage
    (a new ENTRYPOINT clears the inherited CMD, as Docker does)."""
    arguments_before_first_stage: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    stage: Stage | None = None
    for keyword, arguments in dockerfile_instructions(text):
        if keyword == "ARG" and stage is None:
            name, _, default = arguments.partition("=")
            arguments_before_first_stage[name] = default
            continue
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+) AS (\S+)", arguments, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {arguments}"
            base = re.sub(r"\$\{(\w+)\}", lambda found: arguments_before_first_stage[found[1]], match[1])
            parent = stages.get(base)
            stage = Stage(
                name=match[2],
                base=base,
                user=parent.user if parent else "root",
                entrypoint=list(parent.entrypoint) if parent else [],
                cmd=list(parent.cmd) if parent else [],
                healthcheck=list(parent.healthcheck) if parent else [],
                env=dict(parent.env) if parent else {},
            )
            stages[stage.name] = stage
            continue
        assert stage is not None, f"{keyword} before the first FROM"
        stage.instructions.append((keyword, arguments))
        if keyword == "USER":
            stage.user = arguments
        elif keyword == "ENTRYPOINT":
            stage.entrypoint, stage.cmd = exec_form(arguments), []
        elif keyword == "CMD":
            stage.cmd = exec_form(arguments)
        elif keyword == "ENV":
            stage.env.update(env_pairs(arguments))
        elif keyword == "HEALTHCHECK":
            stage.healthcheck = exec_form(arguments.split(" CMD ", 1)[1])
    return stages


STAGES = dockerfile_stages(DOCKERFILE.read_text())


def repository_command(image_command: list[str]) -> list[str]:
    """The image's command as it runs from this checkout: /app is the repository."""
    return [
        str(ROOT / part.removeprefix(f"{IMAGE_ROOT}/")) if part.startswith(f"{IMAGE_ROOT}/") else part
        for part in image_command
    ]


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = subprocess.run(
        [str(VENV / "bin" / "hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_stages_are_build_app_lambda_and_web_last_so_web_is_the_default() -> None:
    assert list(STAGES) == ["build", "app", "lambda", "web"]
    assert [STAGES[name].base for name in ("lambda", "web")] == ["app", "app"]


def test_every_base_image_is_pinned_to_a_tag_that_is_not_latest() -> None:
    for stage in STAGES.values():
        if stage.base in STAGES:
            continue
        repository, _, tag = stage.base.partition(":")
        assert (repository, tag) == ("python", "3.11-slim-bookworm"), stage


def test_the_images_that_run_use_the_fixed_unprivileged_user() -> None:
    assert {name: STAGES[name].user for name in ("app", "lambda", "web")} == {
        "app": "10001:10001",
        "lambda": "10001:10001",
        "web": "10001:10001",
    }


def test_no_stage_keeps_a_secret_key_in_its_environment_or_build_arguments() -> None:
    for stage in STAGES.values():
        assert not [name for name in stage.env if "SECRET" in name], stage.name
        assert not [
            arguments for keyword, arguments in stage.instructions if keyword == "ARG" and "SECRET" in arguments
        ]


def test_the_runtime_writes_only_under_tmp_and_logs_to_the_console() -> None:
    env = STAGES["web"].env
    assert {name: env[name] for name in ("DATA_DIR", "LOG_DIR", "RUN_DIR", "CELERY_BEAT_SCHEDULE_FILE")} == {
        "DATA_DIR": "/tmp/cloudshelf",
        "LOG_DIR": "/tmp/cloudshelf/log",
        "RUN_DIR": "/tmp/cloudshelf/run",
        "CELERY_BEAT_SCHEDULE_FILE": "/tmp/celerybeat-schedule",
    }
    assert (env["GUNICORN_ACCESS_LOG"], env["GUNICORN_ERROR_LOG"]) == ("-", "-")
    assert env["STATIC_ROOT"] == "/app/collected-static"


def test_the_web_image_runs_the_entrypoint_script_with_web() -> None:
    web = STAGES["web"]
    assert web.entrypoint + web.cmd == ["/app/scripts/container.sh", "web"]
    assert repository_command(web.entrypoint) == [str(CONTAINER_SH)]
    assert os.access(CONTAINER_SH, os.X_OK)


def test_the_web_healthcheck_asks_the_entrypoint_script_for_health() -> None:
    assert STAGES["web"].healthcheck == ["/app/scripts/container.sh", "health"]
    assert ("EXPOSE", "8000") in STAGES["web"].instructions


def test_the_lambda_image_runs_the_runtime_interface_client_on_the_web_handler() -> None:
    lambda_stage = STAGES["lambda"]
    assert lambda_stage.entrypoint == ["/opt/venv/bin/python", "-m", "awslambdaric"]
    assert lambda_stage.cmd == ["cloudshelf.aws_lambda.handler"]
    assert (ROOT / "cloudshelf" / "aws_lambda.py").is_file()


# --- The build context ------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Go's filepath.Match sees it (``**`` spans folders)."""
    translated = ""
    for piece in re.split(r"(\*\*/?|\*|\?)", pattern.strip("/")):
        if piece in ("**", "**/"):
            translated += "(?:.*/)?" if piece == "**/" else ".*"
        elif piece == "*":
            translated += "[^/]*"
        elif piece == "?":
            translated += "[^/]"
        else:
            translated += re.escape(piece)
    return re.compile(translated)


def build_context_files() -> list[Path]:
    """The files ``docker build .`` (and CDK's image asset) sends: the last matching
    .dockerignore pattern decides, a pattern matching a folder decides for all inside it."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            is_exception = line.startswith("!")
            rules.append((is_exception, _pattern_regex(line.removeprefix("!"))))

    def is_ignored(relative: str) -> bool:
        parts = relative.split("/")
        ignored = False
        for is_exception, regex in rules:
            if any(regex.fullmatch("/".join(parts[:depth])) for depth in range(1, len(parts) + 1)):
                ignored = not is_exception
        return ignored

    files: list[Path] = []
    for directory, folders, names in os.walk(ROOT):
        relative_directory = Path(directory).relative_to(ROOT)
        # Skip folders no exception could reach into (the big ones: .venv, var, .git).
        folders[:] = [
            name
            for name in folders
            if not is_ignored((relative_directory / name).as_posix())
            or any(is_exception and regex.pattern.startswith(re.escape(name)) for is_exception, regex in rules)
        ]
        for name in names:
            relative = (relative_directory / name).as_posix()
            if not is_ignored(relative):
                files.append(ROOT / relative)
    return files


@pytest.fixture(scope="module")
def context_files() -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in build_context_files()}


def test_the_context_holds_what_the_image_runs(context_files: set[str]) -> None:
    required = {"manage.py", "gunicorn.conf.py", "requirements.txt", "requirements-lambda.txt", "scripts/container.sh"}
    assert required <= context_files
    assert "cloudshelf/settings.py" in context_files
    assert "templates/base.html" in context_files
    top_folders = {name.split("/")[0] for name in context_files}
    local_apps = {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(ROOT) and not Path(config.path).is_relative_to(VENV)
    }
    assert local_apps == {"cloudshelf", "catalog", "cart", "search", "analytics", "partners"}
    assert local_apps <= top_folders
    assert {"templates", "static"} <= top_folders


def test_the_context_leaves_out_local_state_tests_tools_and_caches(context_files: set[str]) -> None:
    top_folders = {name.split("/")[0] for name in context_files}
    assert top_folders == {
        "manage.py", "gunicorn.conf.py", "requirements.txt", "requirements-lambda.txt",
        "cloudshelf", "catalog", "cart", "search", "analytics", "partners", "templates", "static", "scripts",
    }  # fmt: skip
    assert [name for name in context_files if name.startswith("scripts/")] == ["scripts/container.sh"]
    assert [name for name in context_files if "__pycache__" in name or name.endswith(".pyc")] == []


def test_the_context_is_small(context_files: set[str]) -> None:
    size = sum((ROOT / name).stat().st_size for name in context_files)
    assert size < MAX_CONTEXT_BYTES, f"{size:,} bytes"


# --- The commands, run from the repository ----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http_get(url: str, *, host: str = "127.0.0.1") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class ContainerProcess:
    """``scripts/container.sh COMMAND`` as the image runs it, with its output in a file."""

    def __init__(self, command: str, environment: dict[str, str], log: Path) -> None:
        self.log = log
        image_command = [*STAGES["web"].entrypoint, command]
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                repository_command(image_command),
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, *needles: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not all(needle in self.text() for needle in needles):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"never logged {needles}:\n{self.text()}")
            time.sleep(0.1)

    def terminate(self) -> int:
        """SIGTERM, as a container runtime stops a task; the exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def collected_static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """STATIC_ROOT filled as the build stage fills it (``manage collectstatic`` with STATIC_ROOT apart
    from DATA_DIR), through the entrypoint's ``manage`` command."""
    static_root = tmp_path_factory.mktemp("container") / "collected-static"
    result = subprocess.run(
        [*repository_command(STAGES["app"].entrypoint), "manage", "collectstatic", "--no-input", "-v", "0"],
        env={**os.environ, "VENV": str(VENV), "STATIC_ROOT": str(static_root), "DATA_DIR": str(static_root.parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (static_root / "staticfiles.json").is_file()
    return static_root


def container_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test services' environment plus what the image's ENV sets (paths under tmp_path)."""
    return {
        **os.environ,
        "VENV": str(VENV),
        "DATABASE_URL": database_url_of_this_test(),
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_DIR": str(tmp_path / "log"),
        "RUN_DIR": str(tmp_path / "run"),
        "GUNICORN_ACCESS_LOG": "-",
        "GUNICORN_ERROR_LOG": "-",
        "DEBUG": "0",
        **extra,
    }


@pytest.fixture
def queue_name() -> Iterator[str]:
    """A Celery queue of the test's own, so its worker takes nobody's tasks; deleted after."""
    queue = f"test-container-{uuid.uuid4().hex[:8]}"
    yield queue
    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    # The queue's list and kombu's bindings (_kombu.binding.<queue>, _kombu.binding_permanent.<queue>).
    keys = [key for key in client.scan_iter(match=f"*{queue}*", count=1000) if key.decode().endswith(queue)]
    if keys:
        client.delete(*keys)
    client.close()


@pytest.mark.django_db(transaction=True)
def test_the_web_command_serves_health_and_a_book_page_and_stops_on_sigterm(
    tmp_path: Path, collected_static_root: Path
) -> None:
    book: Book = BookFactory(title="Container Cartography")  # type: ignore[no-untyped-call,assignment]
    bind = f"127.0.0.1:{free_port()}"
    prefix = f"test-container-{uuid.uuid4().hex[:8]}"
    environment = container_environment(
        tmp_path,
        GUNICORN_BIND=bind,
        GUNICORN_WORKERS="1",
        GUNICORN_THREADS="2",
        STATIC_ROOT=str(collected_static_root),
        CACHE_KEY_PREFIX=prefix,
        SEARCH_INDEX_PREFIX=settings.SEARCH_INDEX_PREFIX,  # this run's index, not the stack's
        # The healthcheck must send a Host Django accepts: the first entry, not the loopback address.
        ALLOWED_HOSTS=".cloudshelf.example,127.0.0.1",
    )
    web = ContainerProcess("web", environment, tmp_path / "web.log")
    try:
        web.wait_for("Booting worker")
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                if http_get(f"http://{bind}/health")[0] == 200:
                    break
            except OSError:
                pass
            assert web.process.poll() is None, web.text()
            assert time.monotonic() < deadline, web.text()
            time.sleep(0.1)
        status, body = http_get(f"http://{bind}{book.get_absolute_url()}")
        assert status == 200, body[:500]
        assert b"Container Cartography" in body
        health = subprocess.run([str(CONTAINER_SH), "health"], env=environment, capture_output=True, timeout=30)
        assert health.returncode == 0, health.stderr
        # Access lines go to stdout (the container's log), not to files under LOG_DIR.
        assert f'"GET {book.get_absolute_url()} HTTP/1.1" 200' in web.text()
        assert not (tmp_path / "log" / "gunicorn-access.log").exists()
        assert web.terminate() == 0
    finally:
        web.kill()
        for alias in ("default", "durable"):
            connection = get_redis_connection(alias)
            keys = list(connection.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                connection.delete(*keys)
    health = subprocess.run([str(CONTAINER_SH), "health"], env=environment, capture_output=True, timeout=30)
    assert health.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_command_connects_to_the_broker_and_stops_on_sigterm(tmp_path: Path, queue_name: str) -> None:
    environment = container_environment(tmp_path, CELERY_TASK_DEFAULT_QUEUE=queue_name, CELERY_CONCURRENCY="1")
    worker = ContainerProcess("worker", environment, tmp_path / "worker.log")
    try:
        # Celery masks the URL's credentials (redis://:**@host:port/db) in its log.
        broker = os.environ["CELERY_BROKER_URL"].split("@")[-1].removeprefix("redis://")
        worker.wait_for(f"Connected to redis://:**@{broker}", " ready.")
        assert f".> {queue_name}" in worker.text()
        assert worker.terminate() == 0
    finally:
        worker.kill()


@pytest.mark.django_db(transaction=True)
def test_the_beat_command_starts_with_its_schedule_file_and_stops_on_sigterm(tmp_path: Path, queue_name: str) -> None:
    schedule = tmp_path / "celerybeat-schedule"
    environment = container_environment(
        tmp_path, CELERY_TASK_DEFAULT_QUEUE=queue_name, CELERY_BEAT_SCHEDULE_FILE=str(schedule)
    )
    beat = ContainerProcess("beat", environment, tmp_path / "beat.log")
    try:
        beat.wait_for("beat: Starting...")
        assert f"db -> {schedule}" in beat.text()
        assert beat.terminate() == 0
    finally:
        beat.kill()


@pytest.mark.django_db(transaction=True)
def test_the_migrate_command_migrates_the_database_it_is_given(tmp_path: Path) -> None:
    result = subprocess.run(
        [*repository_command(STAGES["app"].entrypoint), "migrate"],
        env=container_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Operations to perform:" in result.stdout
    # Whatever state earlier tests left (some roll a migration back and forth), nothing is left
    # to apply afterwards: the command migrated the database it was given.
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


@pytest.mark.parametrize(
    "arguments",
    [
        ["bogus"],
        [],
        ["web", "--bind", "0.0.0.0:1"],
        ["worker", "extra"],
        ["migrate", "--fake"],
        ["manage"],
        ["health", "x"],
    ],
)
def test_an_unknown_command_or_extra_arguments_print_usage_and_exit_2(arguments: list[str], tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CONTAINER_SH), *arguments],
        env={**os.environ, "VENV": str(tmp_path / "no-venv")},  # nothing may have been started
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"usage: {CONTAINER_SH} {{web|worker|beat|migrate|manage ARGS...|health}}\n"
