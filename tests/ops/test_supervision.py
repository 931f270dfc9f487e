"""The stack's processes under supervisord (scripts/app.sh): a dead worker comes back, and
book changes keep reaching the search index across a worker kill and a broker restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from search.services import search_index_rebuild
from tests.factories import BookFactory
from tests.ops.redis_servers import RedisServers, free_port, redis_servers
from tests.search.conftest import indexed_document, wait_for
from tests.workers import database_url_of_this_test

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "supervision-test-token"


class Stack:
    """``scripts/app.sh`` with this test's database, Redis servers, index and directories."""

    def __init__(self, servers: RedisServers, var_dir: Path, search_prefix: str) -> None:
        self.servers = servers
        self.bind = f"127.0.0.1:{free_port()}"
        self.environment = {
            **servers.environment(),
            "DATABASE_URL": database_url_of_this_test(),
            "REDIS_URL": servers.url("cache"),
            "REDIS_DURABLE_URL": servers.url("durable"),
            "CELERY_BROKER_URL": servers.url("durable", 2),
            "SEARCH_INDEX_PREFIX": search_prefix,
            "SEARCH_INDEX_DEBOUNCE_SECONDS": "0.2",
            "CACHE_KEY_PREFIX": f"supervision{os.getpid()}",
            "WORKER_HEARTBEAT_SECONDS": "1",
            "HEALTH_DETAILS_TOKEN": TOKEN,
            "GUNICORN_BIND": self.bind,
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
            "RUN_DIR": str(var_dir / "run"),
            "LOG_DIR": str(var_dir / "log"),
        }

    def app(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / "scripts" / "app.sh"), command],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def ctl(self, *arguments: str) -> str:
        conf = Path(self.environment["RUN_DIR"]) / "supervisord.conf"
        command = [str(ROOT / ".venv" / "bin" / "supervisorctl"), "-c", str(conf), *arguments]
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout

    def worker_pid(self) -> int:
        return int(self.ctl("pid", "celery-worker").strip() or 0)

    def readiness(self) -> dict:
        request = urllib.request.Request(f"http://{self.bind}/health/ready", headers={"X-Health-Token": TOKEN})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def manage(self, code: str) -> None:
        """Run ``code`` in a ``manage.py shell`` of the stack (a process of its own, like an admin's)."""
        command = [sys.executable, "manage.py", "shell", "-c", code]
        subprocess.run(command, cwd=ROOT, env=self.environment, capture_output=True, timeout=60, check=True)


@contextmanager
def running_stack(servers: RedisServers, var_dir: Path, search_prefix: str) -> Iterator[Stack]:
    stack = Stack(servers, var_dir, search_prefix)
    try:
        started = stack.app("start")
        assert started.returncode == 0, started.stdout + started.stderr
        yield stack
    finally:
        stack.app("stop")


@pytest.fixture
def search_index(settings):
    yield search_index_rebuild
    client = OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30)
    client.indices.delete(index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True)


def test_a_killed_worker_is_restarted_and_changes_reach_the_index_across_a_redis_restart(
    tmp_path, settings, search_index
):
    book = BookFactory(title="Supervised", stock=5)
    search_index()
    assert indexed_document(book.pk)["is_in_stock"] is True

    with (
        redis_servers(tmp_path / "redis") as servers,
        running_stack(servers, tmp_path, settings.SEARCH_INDEX_PREFIX) as stack,
    ):
        first_worker = stack.worker_pid()
        assert first_worker > 0, stack.ctl("status")  # supervisord runs the worker
        wait_for(lambda: stack.readiness()["checks"]["index_sync"]["status"] == "ok")

        os.kill(first_worker, 9)  # dies for good, as on the broker blip of the issue
        servers.script("stop", "durable")  # the broker goes away ...
        servers.script("start", "durable")  # ... and comes back
        stack.manage(
            f"from catalog import services; services.inventory_set_stock(book_ids=[{book.pk}], stock_on_hand=0)"
        )

        wait_for(lambda: indexed_document(book.pk)["is_in_stock"] is False, timeout=60)
        assert stack.worker_pid() not in (0, first_worker)
        # supervisord calls it RUNNING once it has stayed up for startsecs.
        wait_for(lambda: "RUNNING" in stack.ctl("status", "celery-worker"), timeout=30)
