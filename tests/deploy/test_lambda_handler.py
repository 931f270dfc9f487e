"""The Lambda web handler (cloudshelf.aws_lambda.handler) against gunicorn, with recorded ALB events.

Both run as separate processes on the test database with the same environment (HTTPS=1, the
collected static files, the same allowed host): gunicorn with the project's config, and a
Lambda-like process (tests/deploy/lambda_process.py) that imports the handler once and takes
events one at a time. Each recorded event (tests/deploy/events, README there) is sent to both,
the ALB's way to one and as HTTP to the other, and the answers are compared.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import uuid
from base64 import b64decode, b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection

from tests.edge.conftest import GunicornServer, collected_static, free_port  # noqa: F401  (collected_static: a fixture)
from tests.factories import BookFactory

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parent / "events"
HOST = "d111111abcdef8.cloudfront.net"
# What differs between any two answers of the same page: CSRF tokens and CSP nonces.
PER_REQUEST = re.compile(rb'(csrfmiddlewaretoken" value="|nonce="|csrf-token" content=")[^"]*')


def load_event(name: str, **values: str) -> dict[str, Any]:
    """A recorded event with its ``{placeholders}`` filled in (values JSON-escaped)."""
    text = (EVENTS / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", json.dumps(value)[1:-1])
    assert not re.search(r'"\{[a-z_0-9]+\}"|\{(book_path|cookie|cover_path|static_path)\}', text), text
    return json.loads(text)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, list[str]]  # lower-case names
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None


class LambdaProcess:
    """tests/deploy/lambda_process.py: one process, events in turn, as the Lambda runtime does."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self._log = log.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("lambda_process.py"))],
            cwd=ROOT,
            env={**environment, "PYTHONPATH": str(ROOT)},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self._read() == {"ready": True}

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the Lambda process ended: {self._log.name}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def invoke(self, event: Any, handler: str = "handler") -> dict[str, Any]:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"handler": handler, "event": event}) + "\n")
        self._process.stdin.flush()
        return self._read()

    def answer(self, event: dict[str, Any]) -> Answer:
        reply = self.invoke(event)
        assert "response" in reply, reply
        response = reply["response"]
        body = response.get("body") or ""
        return Answer(
            status=response["statusCode"],
            headers={name.lower(): values for name, values in response["multiValueHeaders"].items()},
            body=b64decode(body) if response["isBase64Encoded"] else body.encode(),
        )

    def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        assert self._process.stdout is not None
        self._process.stdout.close()
        self._log.close()


def over_http(server: GunicornServer, event: dict[str, Any]) -> Answer:
    """The request the event records, sent to gunicorn: repeated headers as repeated lines."""
    query = urlencode(event["multiValueQueryStringParameters"], doseq=True, safe="%")
    body = b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    client = http.client.HTTPConnection(*server.bind.split(":"), timeout=10)
    try:
        client.putrequest(event["httpMethod"], event["path"] + (f"?{query}" if query else ""), skip_host=True)
        for name, values in event["multiValueHeaders"].items():
            for value in values:
                client.putheader(name, value)
        client.endheaders(body or None)
        response = client.getresponse()
        headers: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            headers.setdefault(name.lower(), []).append(value)
        return Answer(response.status, headers, response.read())
    finally:
        client.close()


def without_tokens(body: bytes) -> bytes:
    return PER_REQUEST.sub(rb"\1", body)


def cookie_shapes(answer: Answer) -> list[tuple[str, ...]]:
    """Each Set-Cookie's name and attributes, without its value and expiry (those differ per request)."""
    shapes = []
    for line in answer.headers.get("set-cookie", []):
        name = line.split("=", 1)[0]
        attributes = sorted(
            part.strip().split("=", 1)[0].lower()
            if part.strip().lower().startswith(("expires", "max-age"))
            else part.strip()
            for part in line.split(";")[1:]
        )
        shapes.append((name, *attributes))
    return sorted(shapes)


def headers_that_matter(answer: Answer) -> dict[str, Any]:
    csp = answer.header("content-security-policy")
    return {
        "content-type": answer.header("content-type"),
        "cache-control": answer.header("cache-control"),
        "vary": answer.header("vary"),
        "content-encoding": answer.header("content-encoding"),
        "location": answer.header("location"),
        "strict-transport-security": answer.header("strict-transport-security"),
        # Directive order differs between processes (a set): compared as a set, nonces left out.
        "content-security-policy": sorted(re.sub(r"'nonce-[^']*'", "'nonce'", csp).split("; ")) if csp else None,
        "set-cookie": cookie_shapes(answer),
    }


def assert_same_answer(lambda_answer: Answer, gunicorn_answer: Answer) -> None:
    assert lambda_answer.status == gunicorn_answer.status
    assert headers_that_matter(lambda_answer) == headers_that_matter(gunicorn_answer)
    assert without_tokens(lambda_answer.body) == without_tokens(gunicorn_answer.body)


@dataclass(frozen=True)
class Servers:
    gunicorn: GunicornServer
    lambda_: LambdaProcess
    data_dir: Path


@pytest.fixture(scope="module")
def servers(django_db_setup, django_db_blocker, collected_static, tmp_path_factory) -> Iterator[Servers]:  # noqa: F811
    """gunicorn and the Lambda process, once per module, on the test database and Redis keys of their own."""
    with django_db_blocker.unblock():
        database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        ),
        "SEARCH_INDEX_PREFIX": f"test{os.getpid()}-",
        "HTTPS": "1",
        "ALLOWED_HOSTS": f"{HOST},127.0.0.1,localhost",
        "TRUSTED_PROXY_COUNT": "2",
        "DEBUG": "0",
    }
    work = tmp_path_factory.mktemp("lambda-vs-gunicorn")
    gunicorn = GunicornServer(data_dir=collected_static, work_dir=work / "gunicorn", environment=environment)
    lambda_environment = {
        **environment,
        "AWS_LAMBDA_FUNCTION_NAME": "cloudshelf-test-page",
        "DATA_DIR": str(collected_static),
        "CACHE_KEY_PREFIX": f"test{os.getpid()}-lambda-{uuid.uuid4().hex[:8]}",
    }
    gunicorn.start()
    lambda_ = LambdaProcess(lambda_environment, work / "lambda.log")
    try:
        yield Servers(gunicorn=gunicorn, lambda_=lambda_, data_dir=collected_static)
    finally:
        lambda_.stop()
        gunicorn.stop()
        gunicorn.forget_cache_keys()
        with django_db_blocker.unblock():
            from django_redis import get_redis_connection

            for alias in ("default", "durable"):
                redis = get_redis_connection(alias)
                keys = list(redis.scan_iter(match=f"{lambda_environment['CACHE_KEY_PREFIX']}:*", count=1000))
                if keys:
                    redis.delete(*keys)


def both(servers: Servers, event: dict[str, Any]) -> tuple[Answer, Answer]:
    return servers.lambda_.answer(event), over_http(servers.gunicorn, event)


# --- The recorded events, both ways ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_book_page_is_the_same_page_through_lambda_and_gunicorn(servers):
    book = BookFactory(title="Lambda Dunes")
    lambda_answer, gunicorn_answer = both(servers, load_event("book_page", book_path=book.get_absolute_url()))

    assert lambda_answer.status == 200
    assert b"Lambda Dunes" in lambda_answer.body
    assert_same_answer(lambda_answer, gunicorn_answer)


@pytest.mark.django_db(transaction=True)
def test_home_with_a_query_string_is_the_same_page(servers):
    BookFactory(title="Home Shelf Book")
    lambda_answer, gunicorn_answer = both(servers, load_event("home_query"))

    assert lambda_answer.status == 200
    assert lambda_answer.header("content-type") == "text/html; charset=utf-8"
    assert_same_answer(lambda_answer, gunicorn_answer)


@pytest.mark.django_db(transaction=True)
def test_repeated_query_parameters_and_headers_reach_django_as_gunicorn_passes_them(servers):
    lambda_answer, gunicorn_answer = both(servers, load_event("repeated_values"))

    assert lambda_answer.status == 200
    # Both languages applied: each filter's removal link keeps the other one.
    assert b'/search/?q=dune&amp;language=fr" rel="nofollow"' in lambda_answer.body
    assert b'/search/?q=dune&amp;language=en" rel="nofollow"' in lambda_answer.body
    assert_same_answer(lambda_answer, gunicorn_answer)


@pytest.mark.django_db(transaction=True)
def test_the_alb_health_check_without_a_host_header_is_answered_200(servers):
    event = load_event("health_check")
    answer = servers.lambda_.answer(event)

    with_host = {**event, "multiValueHeaders": {**event["multiValueHeaders"], "host": ["127.0.0.1"]}}

    assert (answer.status, answer.body) == (200, b"ok")
    assert_same_answer(answer, over_http(servers.gunicorn, with_host))


@pytest.mark.django_db(transaction=True)
def test_a_gzip_static_file_comes_back_base64_with_the_same_bytes(servers):
    manifest = json.loads((servers.data_dir / "static" / "staticfiles.json").read_text())
    static_path = "/static/" + manifest["paths"]["css/site.css"]
    event = load_event("binary_gzip_static", static_path=static_path)

    reply = servers.lambda_.invoke(event)["response"]
    lambda_answer, gunicorn_answer = servers.lambda_.answer(event), over_http(servers.gunicorn, event)

    assert reply["isBase64Encoded"] is True
    assert lambda_answer.header("content-encoding") in ("gzip", "br")
    assert lambda_answer.body == gunicorn_answer.body
    assert_same_answer(lambda_answer, gunicorn_answer)


@pytest.mark.django_db(transaction=True)
def test_a_cover_image_comes_back_base64_with_the_same_bytes(servers):
    png = b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    name = f"covers/lambda-{uuid.uuid4().hex}.png"
    (servers.data_dir / "media" / "covers").mkdir(parents=True, exist_ok=True)
    (servers.data_dir / "media" / name).write_bytes(png)
    event = load_event("binary_cover", cover_path=f"/media/{name}")

    reply = servers.lambda_.invoke(event)["response"]
    lambda_answer, gunicorn_answer = servers.lambda_.answer(event), over_http(servers.gunicorn, event)

    assert reply["isBase64Encoded"] is True
    assert (lambda_answer.status, lambda_answer.header("content-type"), lambda_answer.body) == (200, "image/png", png)
    assert_same_answer(lambda_answer, gunicorn_answer)


def cookies_set(answer: Answer) -> dict[str, str]:
    """name -> "name=value" for each Set-Cookie of the answer."""
    return {line.split("=", 1)[0]: line.split(";", 1)[0] for line in answer.headers.get("set-cookie", [])}


def cart_add_event(book_path: str, *, cookies: list[str], form: dict[str, Any]) -> dict[str, Any]:
    body = urlencode(form).encode()
    return load_event(
        "cart_add",
        book_path=book_path,
        cookie="; ".join(cookies),
        form_body_base64=b64encode(body).decode(),
        content_length=str(len(body)),
    )


@pytest.mark.django_db(transaction=True)
def test_adding_to_the_cart_with_session_and_csrf_cookies_puts_the_book_in_the_redis_cart(servers):
    book = BookFactory(title="Cart Through Lambda")
    path = book.get_absolute_url()
    # A first visitor's add (no session yet: same-origin proof, no token) starts the session...
    first = servers.lambda_.answer(cart_add_event(path, cookies=[], form={"book_id": book.pk}))
    session = cookies_set(first)["sessionid"]
    # ... whose book page then carries the visitor's CSRF token and cookie.
    page_event = load_event("book_page", book_path=path)
    page_event["multiValueHeaders"]["cookie"] = [session]
    page = servers.lambda_.answer(page_event)
    csrf_cookie = cookies_set(page)["csrftoken"]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
    assert token is not None

    added = servers.lambda_.answer(
        cart_add_event(
            path,
            cookies=[session, csrf_cookie],
            form={"csrfmiddlewaretoken": token.group(1).decode(), "book_id": book.pk, "quantity": 2},
        )
    )
    cart_event = load_event("book_page", book_path="/cart/")
    cart_event["multiValueHeaders"]["cookie"] = [f"{session}; {csrf_cookie}"]
    cart_page = servers.lambda_.answer(cart_event)

    assert (first.status, added.status) == (302, 302)
    assert cart_page.status == 200
    assert b"Cart Through Lambda" in cart_page.body
    assert re.search(rb'name="quantity"[^>]*value="3"', cart_page.body), "1 + 2 copies in the cart"
    assert cart_page.header("cache-control") == "private, no-store"


@pytest.mark.django_db(transaction=True)
def test_a_cart_post_without_its_token_is_refused_as_gunicorn_refuses_it(servers):
    book = BookFactory()
    first = servers.lambda_.answer(cart_add_event(book.get_absolute_url(), cookies=[], form={"book_id": book.pk}))
    event = cart_add_event(
        book.get_absolute_url(), cookies=[cookies_set(first)["sessionid"]], form={"book_id": book.pk}
    )

    lambda_answer, gunicorn_answer = both(servers, event)

    assert lambda_answer.status == gunicorn_answer.status == 403


@pytest.mark.django_db(transaction=True)
def test_several_cookies_come_back_as_separate_set_cookie_values(servers):
    book = BookFactory()
    page = servers.lambda_.invoke(load_event("book_page", book_path=book.get_absolute_url()))["response"]
    gunicorn_answer = over_http(servers.gunicorn, load_event("book_page", book_path=book.get_absolute_url()))

    lambda_cookies = page["multiValueHeaders"].get("Set-Cookie", [])
    assert len(lambda_cookies) == len(gunicorn_answer.headers.get("set-cookie", []))
    assert all("," not in cookie.split(";", 1)[0] for cookie in lambda_cookies)
