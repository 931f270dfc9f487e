"""Real servers for the edge tier's tests: gunicorn on the test database, nginx in front of it.

``gunicorn_server`` runs the project as ``make up`` does (its ``gunicorn.conf.py``, one
worker) on a free loopback port, reading pytest-django's test database, so a test that
commits rows (``transactional_db``) sees them over HTTP. ``http_cache`` starts the
project's nginx (``scripts/nginx.sh``) in front of it with its own port, cache and logs.
Both are stopped, and their files removed, when the test ends.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_redis import get_redis_connection

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
NGINX_SCRIPT = ROOT / "scripts" / "nginx.sh"
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    source_address: str | None = None,
    timeout: float = 10.0,
) -> Response:
    """One HTTP request with exactly these headers (http.client adds no Accept-Encoding
    but ``identity`` unless one is given), on a fresh connection, optionally from another
    loopback address (127.0.0.2) to look like a different machine."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection_ = http.client.HTTPConnection(
        parts.hostname,
        parts.port or 80,
        timeout=timeout,
        source_address=(source_address, 0) if source_address else None,
    )
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection_.request(method, path, body=body, headers=dict(headers or {}))
        answer = connection_.getresponse()
        return Response(answer.status, answer.headers, answer.read())
    finally:
        connection_.close()


def _wait_for_http(url: str, is_alive: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not is_alive():
            raise RuntimeError(f"{url} exited during start:\n{log.read_text() if log.exists() else ''}")
        try:
            if fetch(url, timeout=1).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer 200 within {START_TIMEOUT_SECONDS}s")


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``DATA_DIR`` whose ``static/`` holds ``collectstatic``'s output (hashed names and the
    manifest the production storage needs to render any page), made once per test run."""
    data_dir = tmp_path_factory.mktemp("gunicorn-data")
    environment = {**os.environ, "DATA_DIR": str(data_dir)}
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
        timeout=300,
    )
    return data_dir


class GunicornServer:
    """The project's gunicorn (``gunicorn.conf.py``) on a free port of 127.0.0.1."""

    def __init__(self, *, data_dir: Path, work_dir: Path, environment: Mapping[str, str]) -> None:
        self.bind = f"127.0.0.1:{free_port()}"
        self.url = f"http://{self.bind}"
        self.log_dir = work_dir / "log"
        self.run_dir = work_dir / "run"
        self.access_log = self.log_dir / "gunicorn-access.log"
        self.error_log = self.log_dir / "gunicorn.log"
        self.cache_key_prefix = f"test{os.getpid()}-gunicorn-{uuid.uuid4().hex[:8]}"
        self._environment = {
            **environment,
            "DATA_DIR": str(data_dir),
            "GUNICORN_BIND": self.bind,
            "GUNICORN_WORKERS": "1",
            "LOG_DIR": str(self.log_dir),
            "RUN_DIR": str(self.run_dir),
            "CACHE_KEY_PREFIX": self.cache_key_prefix,
            "DEBUG": "0",
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [str(GUNICORN), "--config", "gunicorn.conf.py", "cloudshelf.wsgi:application"],
            cwd=ROOT,
            env=self._environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_http(f"{self.url}/health", lambda: self.is_running, self.error_log)

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """Quick stop (QUIT: a test has no request in flight worth finishing); KILL after 30 s."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGQUIT)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def requests_for(self, path: str, method: str = "GET") -> int:
        """How many requests for exactly ``path`` (with its query) reached gunicorn.

        gunicorn writes an access-log line just after it sent the answer, so a request
        the caller has already seen answered may not be logged yet. A marker request
        sent now and seen in the log (plus a short grace) means the earlier ones are in.
        """
        if self.is_running:
            marker = f"/health?log-marker={uuid.uuid4().hex}"
            fetch(self.url + marker, timeout=5)
            deadline = time.monotonic() + 5
            while marker not in self._access_log_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.1)
        needle = f'"{method} {path} HTTP/'
        return sum(needle in line for line in self._access_log_text().splitlines())

    def _access_log_text(self) -> str:
        return self.access_log.read_text() if self.access_log.exists() else ""

    def forget_cache_keys(self) -> None:
        """Delete this server's Redis keys (pages, fragments) and nobody else's."""
        for alias in ("default", "durable"):  # pages and fragments; change stamps and paths
            redis = get_redis_connection(alias)
            keys = list(redis.scan_iter(match=f"{self.cache_key_prefix}:*", count=1000))
            if keys:
                redis.delete(*keys)


@pytest.fixture
def gunicorn_env() -> dict[str, str]:
    """Extra environment for ``gunicorn_server``; override with
    ``@pytest.mark.parametrize("gunicorn_env", [{"PAGE_CACHE_SHARED_MAX_AGE": "1"}])``."""
    return {}


@pytest.fixture
def gunicorn_server(transactional_db, settings, collected_static, tmp_path, gunicorn_env) -> Iterator[GunicornServer]:
    """A real gunicorn of the project on the test database, with pid and logs in tmp_path.

    Depends on ``transactional_db``: rows a test creates are committed, so gunicorn's own
    connection sees them. Its Redis keys carry a prefix of their own and are deleted after.
    """
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}"
            f"/{database['NAME']}"
        ),
        # Book changes made by the test queue search syncs into this run's index, not the stack's.
        "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
        **gunicorn_env,
    }
    server = GunicornServer(data_dir=collected_static, work_dir=tmp_path / "gunicorn", environment=environment)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        server.forget_cache_keys()


class HttpCache:
    """The project's nginx (``scripts/nginx.sh``) with its own port, directory and upstream."""

    def __init__(self, *, upstream: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # Not under pytest's tmp_path: that tree is private to root (0700) and nginx's
        # workers run as www-data, which must be able to reach the cache directory.
        self.directory = Path(tempfile.mkdtemp(prefix="cloudshelf-nginx-"))
        self.directory.chmod(0o755)
        self.access_log = self.directory / "logs" / "access.log"
        self.error_log = self.directory / "logs" / "error.log"
        self._environment = {
            **os.environ,
            "NGINX_DIR": str(self.directory),
            "NGINX_PORT": str(self.port),
            "GUNICORN_BIND": upstream,
            "NGINX_WORKERS": "1",
        }

    def script(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(NGINX_SCRIPT), command],
            env=self._environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        result = self.script("start")
        if result.returncode != 0:
            raise RuntimeError(f"scripts/nginx.sh start failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def stop(self) -> None:
        self.script("stop")

    def get(self, path: str, headers: Mapping[str, str] | None = None, **options: object) -> Response:
        return fetch(self.url + path, headers=headers, **options)  # type: ignore[arg-type]

    def crashed_workers(self) -> list[str]:
        """Worker crashes in nginx's error log (a bad module shows up only here)."""
        if not self.error_log.exists():
            return []
        return [line for line in self.error_log.read_text().splitlines() if "exited on signal" in line]

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def running_http_cache(upstream: str) -> Iterator[HttpCache]:
    """nginx from ``scripts/nginx.sh`` on a free port in front of ``upstream``; no worker may crash meanwhile."""
    cache = HttpCache(upstream=upstream)
    try:
        cache.start()
        yield cache
        assert cache.crashed_workers() == []
    finally:
        cache.stop()
        cache.remove()


@pytest.fixture
def http_cache(gunicorn_server) -> Iterator[HttpCache]:
    """nginx from ``scripts/nginx.sh`` on a free port in front of ``gunicorn_server``."""
    with running_http_cache(gunicorn_server.bind) as cache:
        yield cache
