"""Request bodies are bounded (API_MAX_BODY_BYTES): 413 in the API's error shape, decided unread.

The last tests talk to a real gunicorn over a socket, as a partner's client would: a body
declared huge is refused without the server waiting for it, and chunked bodies (which
carry no Content-Length) are read only up to the limit.
"""

from __future__ import annotations

import json
import socket
from http.client import HTTPResponse
from urllib.parse import urlsplit

import pytest

from partners.models import PartnerCart
from tests.api.factories import PartnerFactory, issue_key

pytestmark = pytest.mark.django_db

LIMIT = 4096


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.API_MAX_BODY_BYTES = LIMIT


def cart_body(size: int) -> bytes:
    """A valid cart-creation body of exactly ``size`` bytes (an unknown field pads it)."""
    empty = json.dumps({"customer_reference": "c-1", "padding": ""}).encode()
    return json.dumps({"customer_reference": "c-1", "padding": "x" * (size - len(empty))}).encode()


def assert_too_large(response) -> None:
    assert response.status_code == 413, response.content
    assert response.json() == {
        "code": "request_too_large",
        "message": f"The request body is larger than {LIMIT:,} bytes.",
        "fields": {},
    }


def test_a_body_at_the_limit_is_read(api):
    response = api.post("/api/v1/carts/", cart_body(LIMIT), content_type="application/json")

    assert response.status_code == 201, response.content


def test_a_body_one_byte_over_the_limit_is_413_and_changes_nothing(api):
    response = api.post("/api/v1/carts/", cart_body(LIMIT + 1), content_type="application/json")

    assert_too_large(response)
    assert response["RateLimit-Limit"]  # still counted against the plan, with its headers
    assert PartnerCart.objects.count() == 0


def test_a_huge_declared_length_is_refused_without_reading_the_body(api):
    # The test client's payload raises if more than its 2 bytes are read.
    response = api.post("/api/v1/carts/", b"{}", content_type="application/json", CONTENT_LENGTH=str(10**9))

    assert_too_large(response)


def test_a_declared_length_past_ints_digit_limit_is_413_not_a_crash(api):
    response = api.post("/api/v1/carts/", b"{}", content_type="application/json", CONTENT_LENGTH="9" * 5000)

    assert_too_large(response)


# --- Over a socket, against gunicorn ------------------------------------------------------------


@pytest.fixture
def live_key(live_server_url) -> str:
    return issue_key(PartnerFactory()).raw_key


def exchange(base_url: str, head: bytes, body_parts: list[bytes]) -> tuple[int, dict[str, object]]:
    """Send ``head`` and ``body_parts`` on a fresh connection; the status and JSON body of the answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=20) as connection:
        connection.sendall(head)
        for part in body_parts:
            connection.sendall(part)
        answer = HTTPResponse(connection)
        answer.begin()
        return answer.status, json.loads(answer.read() or b"{}")


def request_head(key: str, extra: str) -> bytes:
    return (
        "POST /api/v1/carts/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nConnection: close\r\n{extra}\r\n"
    ).encode()


def chunked(body: bytes, size: int = 1000) -> list[bytes]:
    parts = [body[start : start + size] for start in range(0, len(body), size)]
    return [b"%x\r\n%s\r\n" % (len(part), part) for part in parts] + [b"0\r\n\r\n"]


@pytest.mark.slow
def test_gunicorn_answers_413_to_a_huge_declared_body_it_never_receives(live_server_url, live_key, settings):
    # Only the headers are sent: a server that tried to read the gigabyte would never answer.
    status, body = exchange(live_server_url, request_head(live_key, f"Content-Length: {10**9}\r\n"), [])

    assert status == 413
    assert body["code"] == "request_too_large"
    assert PartnerCart.objects.count() == 0


@pytest.mark.slow
def test_a_chunked_body_within_the_default_limit_is_read_and_used(live_server_url, live_key):
    body = json.dumps({"customer_reference": "chunked-customer"}).encode()

    status, answer = exchange(live_server_url, request_head(live_key, "Transfer-Encoding: chunked\r\n"), chunked(body))

    assert status == 201, answer
    assert answer["customer_reference"] == "chunked-customer"


@pytest.mark.slow
def test_a_chunked_body_over_the_default_limit_is_413(live_server_url, live_key):
    body = cart_body(64 * 1024 + 1)  # the server runs with the default limit, 64 KiB

    status, answer = exchange(live_server_url, request_head(live_key, "Transfer-Encoding: chunked\r\n"), chunked(body))

    assert status == 413, answer
    assert answer["code"] == "request_too_large"
    assert PartnerCart.objects.count() == 0


def test_the_schema_documents_413_on_every_operation_that_takes_a_body():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [operation for item in schema["paths"].values() for operation in item.values()]

    with_body = [operation for operation in operations if "requestBody" in operation]
    assert with_body  # carts, lines, orders
    assert all("413" in operation["responses"] for operation in with_body)
    assert not any("413" in operation["responses"] for operation in operations if "requestBody" not in operation)
