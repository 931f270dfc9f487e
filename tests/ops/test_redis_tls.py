"""A ``rediss://`` URL means TLS on every Redis alias, the cluster's too (ElastiCache accepts nothing else).

redis-py lets an explicit ``connection_class`` replace the ``SSLConnection`` a ``rediss://`` URL
selects, so each alias's class follows its own URL (cloudshelf.redis_guard.guarded_connection_class).
The end-to-end tests start a TLS-only redis-server of their own, with an AUTH token, on a free
loopback port and a throwaway self-signed certificate; the URL names that certificate as its CA
(``?ssl_ca_certs=``), so verification stays on as in production.
"""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.cache import CacheHandler
from redis.exceptions import AuthenticationError, ResponseError

from cloudshelf import redis_guard
from cloudshelf.redis_cluster import ClusterConnectionFactory
from cloudshelf.redis_guard import GuardedConnection, GuardedSSLConnection
from tests.ops.redis_servers import free_port
from tests.test_settings import settings_for

TOKEN = "tls-test-token/+1"  # an ElastiCache AUTH token may hold characters a URL must escape
TOKEN_IN_URL = "tls-test-token%2F%2B1"
REDIS_ALIASES = ("default", "fragments", "pages", "durable")


@pytest.fixture(autouse=True)
def _no_memo_before_or_after():
    redis_guard.forget()
    yield
    redis_guard.forget()


def connection_class(caches: dict, alias: str) -> type:
    return caches[alias]["OPTIONS"]["CONNECTION_POOL_KWARGS"]["connection_class"]


def test_rediss_urls_give_every_alias_the_tls_connection(monkeypatch):
    caches = settings_for(
        monkeypatch,
        REDIS_CLUSTER=None,
        REDIS_URL="rediss://cache.example:6379/0",
        REDIS_DURABLE_URL="rediss://durable.example:6379/0",
    )["CACHES"]
    assert {alias: connection_class(caches, alias) for alias in REDIS_ALIASES} == dict.fromkeys(
        REDIS_ALIASES, GuardedSSLConnection
    )


def test_redis_urls_keep_the_plain_connection(monkeypatch):
    caches = settings_for(
        monkeypatch,
        REDIS_CLUSTER=None,
        REDIS_URL="redis://cache.example:6379/0",
        REDIS_DURABLE_URL="redis://durable.example:6379/0",
    )["CACHES"]
    assert {alias: connection_class(caches, alias) for alias in REDIS_ALIASES} == dict.fromkeys(
        REDIS_ALIASES, GuardedConnection
    )


def test_each_alias_follows_its_own_url(monkeypatch):
    caches = settings_for(
        monkeypatch,
        REDIS_CLUSTER=None,
        REDIS_URL="redis://cache.example:6379/0",
        REDIS_DURABLE_URL="rediss://durable.example:6379/0",
    )["CACHES"]
    assert connection_class(caches, "default") is GuardedConnection
    assert connection_class(caches, "pages") is GuardedConnection
    assert connection_class(caches, "durable") is GuardedSSLConnection
    assert caches["default"]["OPTIONS"] is not caches["durable"]["OPTIONS"]


def test_the_cluster_aliases_follow_their_urls_too(monkeypatch):
    caches = settings_for(
        monkeypatch,
        REDIS_CLUSTER="1",
        REDIS_URL="rediss://cfg.example.cache.amazonaws.com:6379/0",
        REDIS_DURABLE_URL="redis://durable.example:6379/0",
    )["CACHES"]
    assert connection_class(caches, "default") is GuardedSSLConnection
    assert connection_class(caches, "durable") is GuardedConnection


def test_the_guarded_tls_connection_is_a_redis_py_ssl_connection_with_the_down_memo():
    assert issubclass(GuardedSSLConnection, redis.SSLConnection)
    assert issubclass(GuardedSSLConnection, GuardedConnection)


@dataclass(frozen=True)
class TlsRedis:
    port: int
    ca_file: Path

    def url(self, *, password: str = TOKEN_IN_URL) -> str:
        credentials = f":{password}@" if password else ""
        return f"rediss://{credentials}127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca_file}"


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 that is its own CA: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudshelf-test-redis")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file, key_file = directory / "redis.crt", directory / "redis.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


@contextmanager
def tls_redis_server(directory: Path, *, cluster: bool = False) -> Iterator[TlsRedis]:
    """A redis-server of this test's own that speaks only TLS (no plain port) and requires the token;
    with ``cluster``, a one-node Redis Cluster serving every slot."""
    certificate_file, key_file = self_signed_certificate(directory)
    server = TlsRedis(free_port(), certificate_file)
    cluster_arguments = ("--cluster-enabled", "yes", "--tls-cluster", "yes", "--cluster-port", str(free_port()))
    process = subprocess.Popen(
        [
            "redis-server",
            *("--port", "0", "--tls-port", str(server.port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(certificate_file), "--tls-key-file", str(key_file)),
            *("--tls-ca-cert-file", str(certificate_file), "--tls-auth-clients", "no"),
            *("--requirepass", TOKEN, "--save", "", "--appendonly", "no", "--dir", str(directory)),
            *(cluster_arguments if cluster else ()),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis.from_url(server.url(), socket_timeout=1, retry=None)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        if cluster:
            probe.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            while probe.cluster("INFO")["cluster_state"] != "ok":
                assert time.monotonic() < deadline, "the one-node cluster did not become ok"
                time.sleep(0.05)
        probe.close()
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def tls_redis(tmp_path) -> Iterator[TlsRedis]:
    with tls_redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def tls_redis_cluster(tmp_path) -> Iterator[TlsRedis]:
    with tls_redis_server(tmp_path, cluster=True) as server:
        yield server


def caches_for(monkeypatch, url: str) -> CacheHandler:
    """The caches the settings module builds for ``url`` (both roles on one server, not a cluster),
    outside the live settings."""
    return CacheHandler(settings_for(monkeypatch, REDIS_CLUSTER=None, REDIS_URL=url, REDIS_DURABLE_URL=url)["CACHES"])


def test_the_caches_set_and_get_over_tls_with_the_token_from_the_url(monkeypatch, tls_redis):
    caches = caches_for(monkeypatch, tls_redis.url())
    try:
        for alias in ("default", "durable"):
            caches[alias].set("greeting", f"hello from {alias}")
            assert caches[alias].get("greeting") == f"hello from {alias}"
            assert isinstance(caches[alias].client.get_client().connection_pool.get_connection(), GuardedSSLConnection)
    finally:
        caches.close_all()


def test_without_the_token_the_tls_server_refuses(monkeypatch, tls_redis):
    caches = caches_for(monkeypatch, tls_redis.url(password=""))
    with pytest.raises((AuthenticationError, ResponseError), match=r"NOAUTH|authenticated|Authentication required"):
        caches["durable"].client.get_client().ping()


def test_the_plain_connection_cannot_talk_to_the_tls_server(tls_redis):
    """The defect this guards against: a plain TCP class on a rediss:// URL."""
    pool = redis.ConnectionPool.from_url(
        f"rediss://:{TOKEN_IN_URL}@127.0.0.1:{tls_redis.port}/0",
        connection_class=GuardedConnection,
        socket_connect_timeout=1,
        socket_timeout=1,
    )
    with pytest.raises(redis.ConnectionError):
        redis.Redis(connection_pool=pool, retry=None).ping()


def test_a_tls_cluster_seed_keeps_tls_the_token_and_the_down_memo(monkeypatch, tls_redis_cluster):
    """RedisCluster lets a rediss:// URL's own SSLConnection (no down memo) win over connection_class;
    the factory keeps the guarded TLS class on every node."""
    options = settings_for(
        monkeypatch, REDIS_CLUSTER="1", REDIS_URL=tls_redis_cluster.url(), REDIS_DURABLE_URL=tls_redis_cluster.url()
    )["CACHES"]["durable"]["OPTIONS"]
    cluster = ClusterConnectionFactory(options)._new_cluster(tls_redis_cluster.url())
    try:
        cluster.set("cart:{user:7}", "1 book")
        assert cluster.get("cart:{user:7}") == b"1 book"
        (node,) = cluster.get_nodes()
        assert node.redis_connection.connection_pool.connection_class is GuardedSSLConnection
    finally:
        cluster.close()


def test_a_refused_tls_connection_is_remembered_like_a_plain_one():
    pool = redis.ConnectionPool.from_url(
        f"rediss://127.0.0.1:{free_port()}/0", connection_class=GuardedSSLConnection, socket_connect_timeout=1
    )
    client = redis.Redis(connection_pool=pool, retry=None)
    with pytest.raises(redis.ConnectionError) as first:
        client.ping()
    with pytest.raises(redis_guard.RedisMarkedDown):
        client.ping()
    assert not isinstance(first.value, redis_guard.RedisMarkedDown)
