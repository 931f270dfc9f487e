"""AWS Lambda entry points: the same Django app as gunicorn serves, behind an ALB.

Three handlers share one image (the App stack picks one per function with ``cmd``):

- ``handler``: web requests from an ALB target group (multi-value headers on), through
  apig-wsgi to ``cloudshelf.wsgi.application``. Binary answers (images, gzip) go back
  base64-encoded; the ALB's health check (no Host header) is served for ``/health``.
- ``scheduled_task_handler``: EventBridge rules (``cloudshelf.schedule``) run one scheduled
  Celery task here, in-process; nothing else runs.
- ``manage_handler``: the deploy's ``migrate`` and ``collectstatic`` and a few read-only
  commands, output returned.

Django is set up once, at import (the cold start), never per request. Before that, the
Lambda environment gets its defaults (each only when the variable is unset): ``DATA_DIR``
under /tmp (the only writable directory), no in-process connection pool (one request at a
time per instance: one persistent connection through RDS Proxy, checked before reuse), and
metrics flushed on every request (a frozen instance may never serve another). See
docs/deploy.md, "Lambda behind the ALB".
"""

from __future__ import annotations

import binascii
import io
import json
import logging
import os
import time
from base64 import b64decode
from collections.abc import Callable, Iterable, Mapping
from typing import Any

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    os.environ.setdefault("DATA_DIR", "/tmp/cloudshelf")
    os.environ.setdefault("DATABASE_POOL", "0")
    os.environ.setdefault("METRICS_FLUSH_SECONDS", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloudshelf.settings")

from apig_wsgi import make_lambda_handler
from django.conf import settings
from django.urls import get_resolver

from cloudshelf.wsgi import application

# The URLconf (every view module and the API machinery) would otherwise be imported by the first
# request. Here it is part of the init, which provisioned concurrency runs before any traffic.
get_resolver().url_patterns  # noqa: B018  (evaluated for its import side effect)

logger = logging.getLogger(__name__)

# The ALB sends a Lambda target at most 1 MB of body (and takes at most 1 MB of answer).
MAX_BODY_BYTES = 1024 * 1024
# Path and header limits of an ALB, so a hand-made event cannot be larger than a real one.
MAX_PATH_CHARS = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
HEALTH_PATH = "/health"
MAX_ALB_RESPONSE_BYTES = 1_000_000

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class InvalidEvent(ValueError):
    """The invocation is not what this handler serves; raised, so Lambda records a failed invocation."""


def _with_peer_address(app: WsgiApp) -> WsgiApp:
    """The request as gunicorn behind the ALB would see it.

    ``REMOTE_ADDR`` is the address the ALB received it from: the last ``X-Forwarded-For``
    entry, which the ALB appends itself (apig-wsgi takes the first, which the client wrote).
    ``cloudshelf.client`` reads the header through ``TRUSTED_PROXY_COUNT`` as behind gunicorn;
    this is only its fallback, and must not be a value a client chose."""

    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        forwarded = str(environ.get("HTTP_X_FORWARDED_FOR") or "")
        environ["REMOTE_ADDR"] = forwarded.rsplit(",", 1)[-1].strip() or "127.0.0.1"
        # apig-wsgi copies X-Forwarded-Proto here; as behind gunicorn, only SECURE_PROXY_SSL_HEADER
        # (HTTPS=1) may say the client used TLS: the hop from the ALB is plain.
        environ["wsgi.url_scheme"] = "http"
        return app(environ, start_response)

    return wrapped


_alb_handler = make_lambda_handler(_with_peer_address(application), binary_support=True)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """One ALB request in, one ALB response out (``multiValueHeaders`` when the event had them).

    An event that is not from an ALB raises InvalidEvent (a misconfigured trigger should
    fail loudly); a malformed ALB event gets a 400 and an oversized body a 413, both without
    reaching Django.
    """
    if not _is_alb_event(event):
        raise InvalidEvent("not an ALB target group event (no requestContext.elb): this function serves the ALB")
    multi_value = "multiValueHeaders" in event
    problem = _alb_event_problem(event)
    if problem is not None:
        status, message = problem
        logger.warning("Refused an ALB event: %s", message)
        return _plain_response(status, message, multi_value=multi_value)
    if _header_values(event, "host") == []:
        # The ALB's health checks carry no Host header (a browser's request always has one).
        if event["path"] != HEALTH_PATH or event["httpMethod"] not in ("GET", "HEAD"):
            return _plain_response(400, "A request needs a Host header.", multi_value=multi_value)
        event = _with_header(event, "host", health_check_host())
    response = _alb_handler(event, context)
    # Django writes Set-Cookie values with a leading space (SimpleCookie's output(header="")):
    # an HTTP server's framing hides it, an ALB response passes it on. Trimmed, as on the wire.
    for field in ("multiValueHeaders", "headers"):
        if field in response:
            response[field] = {
                name: [value.strip() for value in values] if isinstance(values, list) else values.strip()
                for name, values in response[field].items()
            }
    if len(response.get("body") or "") > MAX_ALB_RESPONSE_BYTES:
        logger.error(
            "%s %s: %d bytes of answer, over the ALB's 1 MB", event["httpMethod"], event["path"], len(response["body"])
        )
    return response


def health_check_host() -> str:
    """A host ``ALLOWED_HOSTS`` accepts, for the ALB's host-less health checks: its first entry
    (``*`` becomes ``localhost``, ``.example.com`` becomes ``example.com``, which it matches)."""
    for pattern in settings.ALLOWED_HOSTS:
        if pattern == "*":
            return "localhost"
        if pattern.startswith("."):
            return pattern[1:]
        if pattern and "*" not in pattern:
            return str(pattern)
    return "localhost"  # no pattern: Django refuses every host, this one too


def _is_alb_event(event: Any) -> bool:
    return (
        isinstance(event, dict) and isinstance(event.get("requestContext"), dict) and "elb" in event["requestContext"]
    )


def _alb_event_problem(event: dict[str, Any]) -> tuple[int, str] | None:
    """(status, message) when a field is missing, of the wrong type or too large; else None."""
    method, path = event.get("httpMethod"), event.get("path")
    if not isinstance(method, str) or not (0 < len(method) <= 16 and method.isascii() and method.isalpha()):
        return 400, "httpMethod must be an HTTP method such as GET."
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH_CHARS:
        return 400, "path must be a string starting with / (at most 16 KB)."
    for field, multi in (
        ("multiValueHeaders", True),
        ("headers", False),
        ("multiValueQueryStringParameters", True),
        ("queryStringParameters", False),
    ):
        if not _is_string_map(event.get(field), multi=multi):
            kind = "lists of strings" if multi else "strings"
            return 400, f"{field} must map strings to {kind}."
    header_bytes = sum(len(name) + len(value) for name, value in _all_headers(event))
    if header_bytes > MAX_HEADER_BYTES:
        return 400, "The request's headers are too large."
    body, is_base64 = event.get("body"), event.get("isBase64Encoded", False)
    if body is not None and not isinstance(body, str):
        return 400, "body must be a string."
    if not isinstance(is_base64, bool):
        return 400, "isBase64Encoded must be true or false."
    body = body or ""
    # Bounded before decoding: base64 is 4 characters per 3 bytes.
    if len(body) > (MAX_BODY_BYTES * 4 // 3 + 4 if is_base64 else MAX_BODY_BYTES):
        return 413, "The request body is larger than 1 MB."
    if is_base64:
        try:
            decoded = b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return 400, "body is not valid base64."
        if len(decoded) > MAX_BODY_BYTES:
            return 413, "The request body is larger than 1 MB."
    elif len(body.encode()) > MAX_BODY_BYTES:
        return 413, "The request body is larger than 1 MB."
    return None


def _is_string_map(value: Any, *, multi: bool) -> bool:
    if value is None:
        return True  # absent, or null as the console's test events send
    if not isinstance(value, dict):
        return False
    for name, item in value.items():
        if not isinstance(name, str):
            return False
        items = item if multi else [item]
        if not isinstance(items, list) or not all(isinstance(one, str) for one in items):
            return False
    return True


def _all_headers(event: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    if "multiValueHeaders" in event:
        for name, values in (event["multiValueHeaders"] or {}).items():
            for value in values:
                yield name, value
    else:
        yield from (event.get("headers") or {}).items()


def _header_values(event: Mapping[str, Any], name: str) -> list[str]:
    return [value for key, value in _all_headers(event) if key.lower() == name]


def _with_header(event: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    if "multiValueHeaders" in event:
        return {**event, "multiValueHeaders": {**(event["multiValueHeaders"] or {}), name: [value]}}
    return {**event, "headers": {**(event.get("headers") or {}), name: value}}


def _plain_response(status: int, message: str, *, multi_value: bool) -> dict[str, Any]:
    headers = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
    response: dict[str, Any] = {"statusCode": status, "body": message, "isBase64Encoded": False}
    if multi_value:
        response["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    else:
        response["headers"] = headers
    return response


# --- Scheduled tasks (EventBridge) ---------------------------------------------------------


def scheduled_task_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one scheduled Celery task in this process: ``{"task": name, "args": [...]}``.

    Only a task of the beat schedule (``settings.CELERY_BEAT_SCHEDULE``, cloudshelf.schedule)
    runs, and only with its scheduled arguments (``args`` may be left out); anything else
    raises InvalidEvent before any code of it is imported. A failing task raises too, so
    Lambda records the failure (and retries an asynchronous invocation: every job is
    idempotent). Returns a small summary for the logs.
    """
    task_name, args = _scheduled_call(event)
    task = _registered_task(task_name)
    _close_old_connections()  # as at the start of a request: drop a connection past its age or broken
    started = time.monotonic()
    try:
        # throw=True: the task's exception propagates, failing the invocation.
        result = task.apply(args=list(args), throw=True)
    finally:
        _close_old_connections()
    seconds = round(time.monotonic() - started, 3)
    summary = {"task": task_name, "args": list(args), "state": result.state, "result": _json_value(result.result)}
    logger.info("Scheduled task %s ran in %.3f s: %s", task_name, seconds, summary["state"])
    return {**summary, "seconds": seconds}


def _scheduled_call(event: Any) -> tuple[str, tuple[Any, ...]]:
    if not isinstance(event, dict):
        raise InvalidEvent(f'expected {{"task": "<name>", "args": [...]}}, got {type(event).__name__}')
    unknown = set(event) - {"task", "args"}
    if unknown:
        raise InvalidEvent(f"unknown fields {sorted(unknown)}: expected task and args")
    task_name = event.get("task")
    if not isinstance(task_name, str) or not task_name:
        raise InvalidEvent("task must be the name of a scheduled Celery task")
    scheduled = [
        tuple(entry.get("args") or ()) for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == task_name
    ]
    if not scheduled:
        names = sorted({entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()})
        raise InvalidEvent(f"{task_name[:200]!r} is not a scheduled task; scheduled: {', '.join(names)}")
    if "args" not in event:
        if len(scheduled) > 1:
            raise InvalidEvent(f"{task_name!r} is scheduled with different args: give them")
        return task_name, scheduled[0]
    args = event["args"]
    if not isinstance(args, list) or tuple(args) not in scheduled:
        raise InvalidEvent(f"{task_name!r} runs only with its scheduled args {[list(one) for one in scheduled]}")
    return task_name, tuple(args)


def _registered_task(task_name: str) -> Any:
    """The Celery task of a scheduled name (already checked against the schedule)."""
    from cloudshelf.celery import app as celery_app

    celery_app.loader.import_default_modules()  # what a worker registers at start
    return celery_app.tasks[task_name]


def _close_old_connections() -> None:
    """``django.db.close_old_connections`` outside transactions only: a connection past its
    CONN_MAX_AGE or broken is closed, one inside a caller's transaction is left alone."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def _json_value(value: Any) -> Any:
    """The task's return value if JSON can carry it, else its repr (cut short)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:1000]
    return value


# --- Management commands (the deploy) -------------------------------------------------------

# What a deploy or an operator may run here. migrate and collectstatic are the deploy's steps
# (after `cdk deploy`); check and showmigrations only read; search_index builds or checks the
# search index. Commands that change data by hand (shell, flush, loaddata...) stay out.
# dynamo_sync fills a new (or rebuilt) hot-data table from Postgres: `--backfill`.
MANAGE_COMMANDS = frozenset(
    {"migrate", "collectstatic", "check", "showmigrations", "search_index", "dynamo_sync", "create_staff_user"}
)
# No terminal to answer a prompt: these get --no-input when it is not given.
NON_INTERACTIVE_COMMANDS = frozenset({"migrate", "collectstatic"})
# Options that would load other code than the image's settings, or (create_staff_user) make
# another secret the function can read (the database's, SECRET_KEY) a superuser's password.
REFUSED_OPTIONS = ("--settings", "--pythonpath", "--password-secret-arn")
MAX_OUTPUT_CHARS = 256 * 1024


def manage_handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one allowed management command: ``{"command": "migrate", "args": ["--no-input"]}``.

    Returns the command, its arguments and what it printed. A command outside
    ``MANAGE_COMMANDS``, or arguments that are not a short list of strings, raise InvalidEvent
    and nothing runs; a failing command raises with its output, so the deploy step fails.
    """
    command, args = _manage_call(event)
    from django.core.management import call_command

    if command in NON_INTERACTIVE_COMMANDS and not {"--no-input", "--noinput"} & set(args):
        args = [*args, "--no-input"]
    output = io.StringIO()
    started = time.monotonic()
    try:
        call_command(command, *args, stdout=output, stderr=output)
    except (Exception, SystemExit) as error:  # CommandError, or any error the command raised
        raise RuntimeError(f"manage.py {command} failed: {error}\n{_cut(output.getvalue())}") from error
    seconds = round(time.monotonic() - started, 3)
    logger.info("manage.py %s ran in %.3f s", command, seconds)
    return {"command": command, "args": args, "output": _cut(output.getvalue()), "seconds": seconds}


def _manage_call(event: Any) -> tuple[str, list[str]]:
    if not isinstance(event, dict):
        raise InvalidEvent(f'expected {{"command": "<name>", "args": [...]}}, got {type(event).__name__}')
    unknown = set(event) - {"command", "args"}
    if unknown:
        raise InvalidEvent(f"unknown fields {sorted(unknown)}: expected command and args")
    command = event.get("command")
    if not isinstance(command, str) or command not in MANAGE_COMMANDS:
        shown = repr(command)[:100]
        raise InvalidEvent(f"command {shown} is not allowed here; allowed: {', '.join(sorted(MANAGE_COMMANDS))}")
    args = event.get("args", [])
    if (
        not isinstance(args, list)
        or len(args) > 20
        or not all(isinstance(one, str) and len(one) <= 200 for one in args)
    ):
        raise InvalidEvent("args must be a list of at most 20 strings")
    refused = [one for one in args if one.split("=", 1)[0] in REFUSED_OPTIONS]
    if refused:
        raise InvalidEvent(f"options {refused} are not allowed: the function's own settings and secrets are used")
    return command, list(args)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_OUTPUT_CHARS else "…" + text[-MAX_OUTPUT_CHARS:]
