"""A real OpenSearch outage: a second node of our own is stopped mid-run and started again.

A second node (its own ports and directory, via scripts/opensearch.sh) rather than the
shared one, so other test runs and the dev stack using the main node are not disturbed.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest
from opensearchpy import OpenSearch

from search.breaker import CLOSED, OPEN, opensearch_breaker
from search.services import search_index_rebuild
from tests.network import one_fault_test_at_a_time
from tests.search.conftest import HEALTH_TOKEN, ROOT, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Node:
    """One OpenSearch node started and stopped by scripts/opensearch.sh."""

    def __init__(self) -> None:
        self.port = free_port()
        self.directory = ROOT / "var" / f"opensearch-test-{os.getpid()}"
        self.env = {
            **os.environ,
            "OPENSEARCH_PORT": str(self.port),
            "OPENSEARCH_TRANSPORT_PORT": str(free_port()),
            "OPENSEARCH_DIR": str(self.directory),
            "OPENSEARCH_HEAP": "256m",
        }
        self.url = f"http://127.0.0.1:{self.port}"

    def run(self, verb: str) -> None:
        completed = subprocess.run(
            [str(ROOT / "scripts" / "opensearch.sh"), verb], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.fixture
def second_node():
    with one_fault_test_at_a_time():
        yield from _second_node()


def _second_node():
    node = Node()
    node.run("start")
    try:
        yield node
    finally:
        node.run("stop")
        shutil.rmtree(node.directory, ignore_errors=True)


def titles(response) -> list[str]:
    return [book.title for book in response.context["result"].books]


def test_customers_keep_getting_results_while_opensearch_is_down(client, shelf, second_node, settings):
    settings.OPENSEARCH_URL = second_node.url
    settings.SEARCH_BREAKER_COOLDOWN = 1.0
    # Kept answers and pages would serve the repeated search without asking OpenSearch;
    # this test is about what happens when it is asked.
    settings.SEARCH_RESULTS_CACHE_SECONDS = 0
    settings.PAGE_CACHE_SECONDS = 0
    search_index_rebuild()

    def answered_by_opensearch():
        # A node just started can miss its first queries' short timeout on a busy machine
        # (the other xdist worker); the outage below starts from a node that answers.
        response = client.get("/search/", {"q": "dune"})
        if response.context["result"].backend == "opensearch":
            return response
        opensearch_breaker.reset()
        return None

    before = wait_for(answered_by_opensearch, timeout=30, interval=0.5)
    assert before.context["result"].backend == "opensearch"
    assert titles(before) == ["Dune", "Dune Messiah", "Children of Dune"]

    second_node.run("stop")

    for _ in range(settings.SEARCH_BREAKER_FAILURES + 2):
        during = client.get("/search/", {"q": "dune"})
        assert during.status_code == 200
        assert during.context["result"].backend == "database"
        assert titles(during)[0] == "Dune"
        assert set(titles(during)) == {"Dune", "Dune Messiah", "Children of Dune"}
    assert opensearch_breaker.state == OPEN
    assert client.get("/search/autocomplete", {"q": "dun"}).json()["titles"][0]["title"] == "Dune"
    ready = client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN)
    assert ready.status_code == 200
    assert ready.json()["checks"]["search"]["status"] == "degraded"

    second_node.run("start")
    # The index's shard is back once the node is green; until then a probe may still fail
    # (and the breaker rightly open again for another cool-down).
    node = OpenSearch(hosts=[second_node.url], timeout=5)
    wait_for(lambda: node.cluster.health()["status"] == "green", timeout=60, interval=0.5)

    def probe():
        time.sleep(settings.SEARCH_BREAKER_COOLDOWN)
        response = client.get("/search/", {"q": "dune"})  # the half-open probe
        return response if response.context["result"].backend == "opensearch" else None

    after = wait_for(probe, timeout=30)
    assert titles(after) == ["Dune", "Dune Messiah", "Children of Dune"]
    assert opensearch_breaker.state == CLOSED
    assert client.get("/health/ready", HTTP_X_HEALTH_TOKEN=HEALTH_TOKEN).json()["checks"]["search"]["status"] == "ok"
