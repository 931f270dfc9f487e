"""Events the web handler must refuse: a clear 400/413 for a malformed ALB event, an exception
(a failed invocation) for something that is not an ALB event; Django is never reached, so
nothing is written."""

from __future__ import annotations

import json
from base64 import b64encode
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session

pytestmark = pytest.mark.django_db

EVENTS = Path(__file__).resolve().parent / "events"


def health_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "health_check.json").read_text())
    return event


def cart_post(body: str, *, is_base64: bool = True) -> dict[str, Any]:
    event = health_event()
    event.update(
        httpMethod="POST",
        path="/cart/add/",
        body=body,
        isBase64Encoded=is_base64,
        multiValueHeaders={"host": ["localhost"], "content-type": ["application/x-www-form-urlencoded"]},
    )
    return event


@pytest.mark.parametrize(
    "event",
    [
        None,
        "GET /",
        [],
        {},
        {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "GET"}}},  # API Gateway HTTP API
        {"task": "cart.tasks.orders_reconcile_pending"},  # meant for the tasks function
        {"requestContext": "elb", "httpMethod": "GET", "path": "/"},
    ],
)
def test_an_event_that_is_not_from_an_alb_fails_the_invocation_clearly(aws_lambda, event):
    with pytest.raises(aws_lambda.InvalidEvent, match="not an ALB target group event"):
        aws_lambda.handler(event, None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"httpMethod": None}, "httpMethod must be an HTTP method"),
        ({"httpMethod": "GET /"}, "httpMethod must be an HTTP method"),
        ({"path": 42}, "path must be a string starting with /"),
        ({"path": "health"}, "path must be a string starting with /"),
        ({"path": "/" + "a" * 20_000}, "path must be a string starting with /"),
        ({"multiValueHeaders": {"host": "localhost"}}, "multiValueHeaders must map strings to lists of strings"),
        ({"multiValueHeaders": ["host"]}, "multiValueHeaders must map strings to lists of strings"),
        ({"multiValueQueryStringParameters": {"q": [1]}}, "multiValueQueryStringParameters must map"),
        ({"multiValueHeaders": {"x-big": ["v" * 70_000]}}, "headers are too large"),
        ({"body": {"a": 1}}, "body must be a string"),
        ({"isBase64Encoded": "yes"}, "isBase64Encoded must be true or false"),
    ],
)
def test_a_malformed_alb_event_gets_a_400_that_says_which_field(aws_lambda, change, message):
    response = aws_lambda.handler({**health_event(), **change}, None)

    assert response["statusCode"] == 400
    assert message in response["body"]
    assert response["multiValueHeaders"]["Cache-Control"] == ["no-store"]
    assert response["isBase64Encoded"] is False


def test_a_body_that_is_not_base64_gets_a_400_and_writes_nothing(aws_lambda):
    response = aws_lambda.handler(cart_post("book_id=1&quantity=1"), None)

    assert (response["statusCode"], response["body"]) == (400, "body is not valid base64.")
    assert Session.objects.count() == 0


@pytest.mark.parametrize("is_base64", [True, False])
def test_a_body_over_the_albs_1_mb_gets_a_413_and_writes_nothing(aws_lambda, is_base64):
    form = "book_id=1&quantity=1&padding=" + "x" * (1024 * 1024)
    body = b64encode(form.encode()).decode() if is_base64 else form

    response = aws_lambda.handler(cart_post(body, is_base64=is_base64), None)

    assert (response["statusCode"], response["body"]) == (413, "The request body is larger than 1 MB.")
    assert Session.objects.count() == 0


def test_a_request_without_a_host_header_is_refused_unless_it_is_the_health_check(aws_lambda):
    event = {**health_event(), "path": "/books/"}

    response = aws_lambda.handler(event, None)

    assert (response["statusCode"], response["body"]) == (400, "A request needs a Host header.")


def test_the_health_check_uses_a_host_that_allowed_hosts_accepts(aws_lambda, settings):
    settings.ALLOWED_HOSTS = [".shop.example", "*"]
    assert aws_lambda.health_check_host() == "shop.example"
    settings.ALLOWED_HOSTS = ["*"]
    assert aws_lambda.health_check_host() == "localhost"
    settings.ALLOWED_HOSTS = ["internal-alb.example", "*.example"]
    assert aws_lambda.health_check_host() == "internal-alb.example"


def test_a_single_value_event_gets_a_single_value_answer(aws_lambda):
    """A target group with multi-value headers off sends and expects ``headers``: both shapes work."""
    event = health_event()
    del event["multiValueHeaders"], event["multiValueQueryStringParameters"]
    event.update(headers={"user-agent": "ELB-HealthChecker/2.0"}, queryStringParameters={})

    response = aws_lambda.handler(event, None)

    assert (response["statusCode"], response["body"]) == (200, "ok")
    assert "multiValueHeaders" not in response
    assert response["headers"]["Content-Type"].startswith("text/plain")


def test_the_app_sees_the_peer_the_alb_appended_and_a_plain_hop_as_behind_gunicorn(aws_lambda):
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("204 No Content", [])
        return []

    wrapped = aws_lambda._with_peer_address(app)
    wrapped(
        {
            "HTTP_X_FORWARDED_FOR": "6.6.6.6,203.0.113.7, 130.176.1.10",
            "REMOTE_ADDR": "6.6.6.6",
            "wsgi.url_scheme": "https",
        },
        lambda *a: None,
    )

    assert seen["REMOTE_ADDR"] == "130.176.1.10"  # not 6.6.6.6, which the client wrote
    assert seen["wsgi.url_scheme"] == "http"  # HTTPS=1 reads X-Forwarded-Proto, as behind gunicorn
