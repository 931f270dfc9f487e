"""scripts/redis.sh cluster-start|cluster-stop|cluster-status on a Redis Cluster of the test's own
(free loopback ports, files under the test's temporary directory): created once, reused, rejoined
after a restart with its data, recreated when broken."""

from __future__ import annotations

import os
import random
import socket
import subprocess
from pathlib import Path

import pytest
import redis

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "redis.sh"
BUS_OFFSET = 100


def is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports() -> list[int]:
    """Three consecutive loopback ports whose cluster bus ports (+100) are free too."""
    for _ in range(200):
        base = random.randrange(20_000, 50_000)
        ports = [base, base + 1, base + 2]
        if all(is_free(port) and is_free(port + BUS_OFFSET) for port in ports):
            return ports
    raise AssertionError("no free ports for a test cluster")


class Cluster:
    def __init__(self, var_dir: Path) -> None:
        self.ports = free_cluster_ports()
        self.directory = var_dir / "redis-cluster"
        self.environment = {
            **os.environ,
            "VAR_DIR": str(var_dir),
            "REDIS_CLUSTER_DIR": str(self.directory),
            "REDIS_CLUSTER_PORTS": " ".join(map(str, self.ports)),
            "REDIS_CLUSTER_BUS_OFFSET": str(BUS_OFFSET),
            "REDIS_CLUSTER_MAXMEMORY": "32mb",
        }

    def run(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), *arguments], env=self.environment, capture_output=True, text=True, timeout=90, check=False
        )

    def node(self, index: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.ports[index], socket_timeout=5)

    def client(self) -> redis.cluster.RedisCluster:
        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.ports[0], socket_timeout=5)


@pytest.fixture
def own_cluster(tmp_path):
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.run("cluster-stop")


@pytest.mark.slow
def test_the_cluster_is_made_once_reused_rejoined_with_its_data_and_remade_when_broken(own_cluster):
    assert own_cluster.run("cluster-status").returncode == 3  # nothing yet

    created = own_cluster.run("cluster-start")
    assert created.returncode == 0, created.stderr
    assert "creating the Redis Cluster" in created.stdout
    info = own_cluster.node(2).cluster("info")
    assert (info["cluster_state"], int(info["cluster_known_nodes"]), int(info["cluster_slots_ok"])) == ("ok", 3, 16384)
    node = own_cluster.node(1)
    assert node.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    assert node.config_get("appendonly") == {"appendonly": "yes"}
    assert node.config_get("bind") == {"bind": "127.0.0.1"}

    reused = own_cluster.run("cluster-start")
    assert (reused.returncode, "reused" in reused.stdout) == (0, True)
    assert own_cluster.run("cluster-status").returncode == 0

    client = own_cluster.client()
    client.mset_nonatomic({f"kept:{index}": index for index in range(50)})
    client.close()
    assert own_cluster.run("cluster-stop").returncode == 0
    assert own_cluster.run("cluster-status").returncode == 3
    rejoined = own_cluster.run("cluster-start")
    assert (rejoined.returncode, "reused" in rejoined.stdout) == (0, True)
    client = own_cluster.client()
    assert client.mget_nonatomic([f"kept:{index}" for index in range(50)]) == [str(i).encode() for i in range(50)]
    client.close()

    own_cluster.run("cluster-stop")
    (own_cluster.directory / str(own_cluster.ports[2]) / "nodes.conf").unlink()  # one node forgot the cluster
    remade = own_cluster.run("cluster-start")
    assert remade.returncode == 0, remade.stderr
    assert "creating the Redis Cluster" in remade.stdout
    assert own_cluster.run("cluster-status").returncode == 0


def test_an_unknown_action_is_refused_with_the_usage():
    result = subprocess.run([str(SCRIPT), "cluster-bogus"], capture_output=True, text=True, timeout=30, check=False)

    assert result.returncode == 2
    assert "cluster-start|cluster-stop|cluster-status" in result.stderr


def test_a_port_held_by_something_else_is_named(tmp_path):
    cluster = Cluster(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", cluster.ports[1]))
        squatter.listen()
        try:
            result = cluster.run("cluster-start")
        finally:
            cluster.run("cluster-stop")

    assert result.returncode != 0
    assert f"port {cluster.ports[1]}" in result.stderr
