"""Redis servers of a test's own, started and stopped through ``scripts/redis.sh``.

Tests that restart, fill or freeze a Redis never touch the shared one (56379) that other
test runs use: each gets both roles on free loopback ports, with their files under the
test's temporary directory, configured exactly as ``make services`` configures the real ones.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "redis.sh"


def free_port() -> int:
    """A loopback port nothing listens on right now (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class RedisServers:
    """Both Redis roles of one test: ports, files, and the script that runs them."""

    var_dir: Path
    cache_port: int
    durable_port: int
    cache_maxmemory: str
    durable_maxmemory: str

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "VAR_DIR": str(self.var_dir),
            "REDIS_DIR": str(self.var_dir / "redis"),
            "REDIS_DURABLE_DIR": str(self.var_dir / "redis-durable"),
            "REDIS_PORT": str(self.cache_port),
            "REDIS_DURABLE_PORT": str(self.durable_port),
            "REDIS_CACHE_MAXMEMORY": self.cache_maxmemory,
            "REDIS_DURABLE_MAXMEMORY": self.durable_maxmemory,
        }

    def script(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``scripts/redis.sh <arguments>`` for these servers; raises when it fails."""
        return subprocess.run(
            [str(SCRIPT), *arguments], env=self.environment(), capture_output=True, text=True, timeout=60, check=True
        )

    def url(self, role: str, database: int = 0) -> str:
        port = self.cache_port if role == "cache" else self.durable_port
        return f"redis://127.0.0.1:{port}/{database}"

    def client(self, role: str) -> redis.Redis:
        """A plain redis-py client (no cache prefix, no retries) for looking at a server directly."""
        return redis.Redis.from_url(self.url(role), socket_timeout=5, retry=None)

    def pid(self, role: str) -> int:
        directory = "redis" if role == "cache" else "redis-durable"
        return int((self.var_dir / directory / "redis.pid").read_text().strip())


@contextmanager
def redis_servers(
    var_dir: Path, *, cache_maxmemory: str = "256mb", durable_maxmemory: str = "512mb"
) -> Iterator[RedisServers]:
    """Start both roles through the project's script, stop them afterwards (even on failure)."""
    servers = RedisServers(var_dir, free_port(), free_port(), cache_maxmemory, durable_maxmemory)
    try:
        servers.script("start")
        yield servers
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=servers.environment(), capture_output=True, timeout=60)
