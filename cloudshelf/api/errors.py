"""One JSON error shape for the whole API, whatever raised the error.

Every error answer is ``{"code": ..., "message": ..., "fields": {...}}``: ``code`` is a
stable machine-readable word (``invalid_input``, ``not_found``, ``throttled``...),
``message`` is for the developer reading the log, ``fields`` maps each bad input (dotted
for nested ones, ``lines.0.quantity``) to its messages and is ``{}`` when no field is to
blame. DRF views reach it through ``api_exception_handler``; the API middleware uses
``error_response`` for what happens outside a view (unknown URLs, throttling, crashes).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger("cloudshelf.api")

# A dependency that is down, and for which the endpoint has no fallback: answer 503 and
# let the partner retry, instead of a 500 that says "our bug".
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)
DEPENDENCY_RETRY_AFTER_SECONDS = 5

_MESSAGES = {
    "invalid_input": "Some of the input is not valid; see fields.",
    "not_found": "Nothing here.",
    "server_error": "Something went wrong on our side; it has been logged.",
    "service_unavailable": "A service this endpoint needs is unavailable; retry shortly.",
}


class Conflict(exceptions.APIException):
    """409: the request is well-formed but clashes with the current state."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    """503: a dependency is down and this endpoint has no fallback."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _MESSAGES["service_unavailable"]
    default_code = "service_unavailable"


def error_body(code: str, message: str, fields: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The one error shape."""
    return {"code": code, "message": message, "fields": dict(fields or {})}


def error_response(
    status_code: int, code: str, message: str | None = None, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    """An error answer built outside DRF (middleware): same shape, same renderer."""
    response = HttpResponse(
        orjson.dumps(error_body(code, message or _MESSAGES.get(code, code))),
        status=status_code,
        content_type="application/json",
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def flatten_field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as ``{"dotted.path": ["message", ...]}``."""
    if isinstance(detail, Mapping):
        fields: dict[str, list[str]] = {}
        for name, value in detail.items():
            fields.update(flatten_field_errors(value, f"{prefix}.{name}" if prefix else str(name)))
        return fields
    if isinstance(detail, list) and detail and all(isinstance(item, str) for item in detail):
        return {prefix or "non_field_errors": [str(item) for item in detail]}
    if isinstance(detail, list):
        fields = {}
        for index, value in enumerate(detail):
            fields.update(flatten_field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return fields
    return {prefix or "non_field_errors": [str(detail)]}


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """``REST_FRAMEWORK["EXCEPTION_HANDLER"]``: every exception becomes the one shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_MESSAGES["not_found"])
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DEPENDENCY_ERRORS):
        logger.error("dependency unavailable: %s", exc, exc_info=exc)
        exc = ServiceUnavailable()
    set_rollback()
    headers: dict[str, str] = {}
    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.error("unhandled error in %s", type(view).__name__, exc_info=exc)
        return Response(error_body("server_error", _MESSAGES["server_error"]), status=500)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_field_errors(exc.detail)
        message = _MESSAGES["invalid_input"]
        if set(fields) == {"non_field_errors"}:
            message = " ".join(fields.pop("non_field_errors"))
        body = error_body("invalid_input", message, fields)
    else:
        body = error_body(_code_of(exc), str(exc.detail))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait)))
    if isinstance(exc, ServiceUnavailable):
        headers["Retry-After"] = str(DEPENDENCY_RETRY_AFTER_SECONDS)
    return Response(body, status=exc.status_code, headers=headers)
