"""Fixtures of the fault tests: the real app (gunicorn), a real worker, and faults at the network level.

Each test runs the project's gunicorn (``tests.edge.conftest.GunicornServer``) on the test
database, pointed through a ``FaultProxy`` (or at servers of its own) for the dependency it
breaks, and talks to it over HTTP like a browser. The shared services are never stopped:
only the proxy in front of them misbehaves, or a server the test started itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from redis import Redis

from tests.edge.conftest import GunicornServer, collected_static  # noqa: F401  (a shared fixture)
from tests.network import (
    one_fault_test_at_a_time,
    wait_for,  # noqa: F401  (re-exported for the fault tests)
)

HEALTH_TOKEN = "fault-tests-health-token"
# Bounds every request a test sends, so a hung app fails the test instead of hanging it.
REQUEST_TIMEOUT_SECONDS = 20


def database_url(*, port: int | None = None) -> str:
    """``DATABASE_URL`` of this test's database, optionally through a proxy on ``port``."""
    database = connection.settings_dict
    return (
        f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{port or database['PORT']}"
        f"/{database['NAME']}"
    )


StartServer = Callable[..., GunicornServer]


@pytest.fixture(autouse=True)
def _no_queued_index_work(settings):
    """Each test starts and ends with no search sync queued under this run's index prefix.

    The apps these tests start share the prefix (and the durable Redis, unless a test gives
    them their own), so book changes one test's app made must not be counted by the next.
    """

    def clean() -> None:
        # The shared server by its URL: a test may have pointed this process's caches elsewhere.
        redis = Redis.from_url(os.environ["REDIS_DURABLE_URL"], socket_timeout=5)
        keys = list(redis.scan_iter(f"{settings.SEARCH_INDEX_PREFIX}sync:*"))
        if keys:
            redis.delete(*keys)

    clean()
    yield
    clean()


@pytest.fixture
def app_server(transactional_db, settings, collected_static, tmp_path) -> Iterator[StartServer]:  # noqa: F811
    """``start(**environment)`` runs the project's gunicorn on the test database; all stop after.

    ``environment`` overrides this process's (``DATABASE_URL=...`` through a proxy, say).
    Search writes go to this run's index prefix; readiness details need ``HEALTH_TOKEN``.
    """
    servers: list[GunicornServer] = []

    def start(**environment: str) -> GunicornServer:
        server = GunicornServer(
            data_dir=collected_static,
            work_dir=tmp_path / f"gunicorn-{len(servers)}",
            environment={
                **os.environ,
                "DATABASE_URL": database_url(),
                "SEARCH_INDEX_PREFIX": settings.SEARCH_INDEX_PREFIX,
                "HEALTH_DETAILS_TOKEN": HEALTH_TOKEN,
                **environment,
            },
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
        server.forget_cache_keys()


def browser(server: GunicornServer, user: object | None = None) -> requests.Session:
    """A ``requests`` session against ``server``; signed in as ``user`` when given (a session row
    made here, which gunicorn reads from Postgres since its cache has another key prefix)."""
    session = requests.Session()
    if user is not None:
        client = Client()
        client.force_login(user)  # type: ignore[arg-type]
        name = django_settings.SESSION_COOKIE_NAME
        session.cookies.set(name, client.cookies[name].value, domain="127.0.0.1")
    session.request = _bounded(session.request)  # type: ignore[method-assign]
    return session


def _bounded(request: Callable[..., requests.Response]) -> Callable[..., requests.Response]:
    def bounded(method: str, url: str, **options: object) -> requests.Response:
        options.setdefault("timeout", REQUEST_TIMEOUT_SECONDS)
        return request(method, url, **options)

    return bounded


def readiness(server: GunicornServer) -> dict:
    """``/health/ready`` with its checks (the details token): status code and body."""
    response = requests.get(
        f"{server.url}/health/ready", headers={"X-Health-Token": HEALTH_TOKEN}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    return {"status_code": response.status_code, **response.json()}


@pytest.fixture(autouse=True)
def _one_fault_test_at_a_time():
    with one_fault_test_at_a_time():
        yield
