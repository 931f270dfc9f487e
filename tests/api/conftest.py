"""Partner API fixtures: two partners (ours and another), each with a live key and a client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
import redis
from django.db import connection
from django.test import Client

from catalog.selectors.categories import category_index_clear
from partners.models import Partner
from partners.services import IssuedApiKey
from tests.api.factories import PartnerFactory, issue_key

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(autouse=True)
def _fresh_category_rows():
    """Each test sees the categories it made: forget the per-process memo of the category index."""
    category_index_clear()
    yield
    category_index_clear()


def dead_redis() -> redis.Redis:
    """A client for a port where nothing listens, built like django-redis builds its clients
    (a pool from a URL), so it fails at once instead of retrying with backoff."""
    pool = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    return redis.Redis(connection_pool=pool)


def key_client(raw_key: str) -> Client:
    """A test client that sends ``raw_key`` as a bearer token on every request."""
    return Client(headers={"Authorization": f"Bearer {raw_key}"})


@pytest.fixture
def partner(db) -> Partner:
    return PartnerFactory(name="Acme Books")


@pytest.fixture
def partner_key(partner) -> IssuedApiKey:
    return issue_key(partner)


@pytest.fixture
def api(partner_key) -> Client:
    """Acme's client. Its first request records the key's use (one UPDATE); tests that pin
    query counts make a warm-up request first."""
    return key_client(partner_key.raw_key)


@pytest.fixture
def other_partner(db) -> Partner:
    return PartnerFactory(name="Globex Reads")


@pytest.fixture
def other_api(other_partner) -> Client:
    return key_client(issue_key(other_partner).raw_key)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            with urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@pytest.fixture
def live_server_url(transactional_db, settings, tmp_path):
    """gunicorn with two workers on a free loopback port, on the test database and cache prefix."""
    port = _free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "ALLOWED_HOSTS": "127.0.0.1",
        # This test's search index (built by the test), not the stack's.
        "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
        "DEBUG": "0",
    }
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--pythonpath",
            str(ROOT),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "2",
            "--worker-class",
            "gthread",
            "--no-control-socket",
            "--limit-request-line",
            "0",  # as gunicorn.conf.py: nginx's buffers bound the request line, not gunicorn
            "--log-level",
            "warning",
            "cloudshelf.wsgi:application",
        ],
        cwd=tmp_path,  # no gunicorn.conf.py here: that one writes the stack's pid file
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{url}/health", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
