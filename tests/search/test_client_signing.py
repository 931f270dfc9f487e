"""SigV4 signing for Amazon OpenSearch Service (``OPENSEARCH_AWS_REGION``), as infra/ deploys it.

What a signed request carries is read off a loopback server of our own; that signed requests
still work end to end is checked against the real node (which ignores the signature, as a
domain without fine-grained access control would not: that part only AWS can check).
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from search import client

pytestmark = pytest.mark.django_db


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append({key.lower(): value for key, value in self.headers.items()})
        body = b'{"name":"n","cluster_name":"c","version":{"number":"2.19.0","distribution":"opensearch"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    client._client.cache_clear()
    yield
    client._client.cache_clear()


def test_requests_are_signed_for_the_es_service_in_the_configured_region(settings, recorder, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLESIGNING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    settings.OPENSEARCH_URL = recorder
    settings.OPENSEARCH_AWS_REGION = "eu-west-1"

    client.search_client().info()

    [headers] = _Recorder.seen
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLESIGNING/")
    assert "/eu-west-1/es/aws4_request" in authorization
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256"} <= set(signed)
    empty_body_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert headers["x-amz-content-sha256"] == empty_body_sha256


def test_no_region_sends_no_signature(settings, recorder):
    settings.OPENSEARCH_URL = recorder
    settings.OPENSEARCH_AWS_REGION = ""

    client.bulk_client().info()

    [headers] = _Recorder.seen
    assert "authorization" not in headers


def test_signed_requests_work_against_the_real_node(settings, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLESIGNING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    settings.OPENSEARCH_AWS_REGION = "us-east-1"

    assert client.search_client().info()["version"]["distribution"] == "opensearch"


def test_signing_without_credentials_is_a_clear_error(settings, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.OPENSEARCH_AWS_REGION = "us-east-1"

    with pytest.raises(ImproperlyConfigured, match="no AWS credentials were found"):
        client.search_client()
