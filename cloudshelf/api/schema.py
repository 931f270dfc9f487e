"""OpenAPI additions that apply to every endpoint (drf-spectacular extension and hook).

Endpoints describe their own success answers; this module adds what they all share: the
two ways to present a key, the one error shape with an example per status, the
rate-limit headers, and 304 for conditional GETs. It is loaded by ``apps.ready`` and
named in ``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

BEARER = "PartnerKeyBearer"
HEADER = "PartnerKeyHeader"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "cloudshelf.api.authentication.ApiKeyAuthentication"
    name = [BEARER, HEADER]

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[Any]]]:
        return [{BEARER: []}, {HEADER: []}]  # either header will do

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer cs_live_…` with the key shown once when it was issued.",
            },
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key, in `X-API-Key`."},
        ]


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error has this shape.",
    "required": ["code", "message", "fields"],
    "properties": {
        "code": {"type": "string", "description": "Stable, machine-readable: branch on this.", "example": "not_found"},
        "message": {"type": "string", "description": "For the developer; may change wording."},
        "fields": {
            "type": "object",
            "description": "Bad inputs (dotted for nested ones) and what is wrong with each; `{}` if none.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
}

# status -> (component name, description, example body)
_ERROR_RESPONSES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "400": (
        "InvalidInput",
        "Invalid input: each bad field is named.",
        {
            "code": "invalid_input",
            "message": "Some of the input is not valid; see fields.",
            "fields": {"isbns": ["Not valid ISBN-13s: 9780000000000."]},
        },
    ),
    "401": (
        "Unauthenticated",
        "No API key, or a key that is not valid or has been revoked.",
        {"code": "authentication_failed", "message": "The API key is not valid or has been revoked.", "fields": {}},
    ),
    "403": (
        "Forbidden",
        "The key is valid but may not do this (read-only key, suspended partner).",
        {"code": "read_only_key", "message": "This API key is read-only.", "fields": {}},
    ),
    "404": (
        "NotFound",
        "No such resource, or it is not yours.",
        {"code": "not_found", "message": "Nothing here.", "fields": {}},
    ),
    "429": (
        "Throttled",
        "Over the plan's rate limit; `Retry-After` says when to try again.",
        {
            "code": "throttled",
            "message": "Too many requests for this plan; retry after the Retry-After seconds.",
            "fields": {},
        },
    ),
    "503": (
        "ServiceUnavailable",
        "A service this endpoint needs is down and it has no fallback; retry after `Retry-After`.",
        {
            "code": "service_unavailable",
            "message": "A service this endpoint needs is unavailable; retry shortly.",
            "fields": {},
        },
    ),
    "default": ("OtherError", "Any other error, in the same shape.", None),
}
# Only operations that take a body can be refused for its size.
_BODY_TOO_LARGE: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "413": (
        "RequestTooLarge",
        "The body is larger than the API reads (64 KiB unless configured); it was not read.",
        {"code": "request_too_large", "message": "The request body is larger than 65,536 bytes.", "fields": {}},
    )
}

_HEADERS: dict[str, dict[str, Any]] = {
    "RateLimit-Limit": {"description": "Requests the bucket holds (the plan's burst).", "schema": {"type": "integer"}},
    "RateLimit-Remaining": {"description": "Requests left in the bucket now.", "schema": {"type": "integer"}},
    "RateLimit-Reset": {"description": "Seconds until the bucket is full again.", "schema": {"type": "integer"}},
    "RateLimit-Policy": {"description": "`<burst>;w=<seconds to refill>`.", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
}
RATE_LIMIT_HEADER_REFS = {name: {"$ref": f"#/components/headers/{name}"} for name in _HEADERS if name != "Retry-After"}


def _error_component(description: str, example: dict[str, Any] | None, status_code: str) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Error"}}
    if example is not None:
        media["examples"] = {"error": {"value": example}}
    headers = dict(RATE_LIMIT_HEADER_REFS)
    if status_code in ("429", "503"):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return {"description": description, "content": {"application/json": media}, "headers": headers}


def add_shared_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the Error shape, error answers and rate-limit headers on every operation."""
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["headers"] = _HEADERS
    components["responses"] = {
        name: _error_component(description, example, status_code)
        for status_code, (name, description, example) in (_ERROR_RESPONSES | _BODY_TOO_LARGE).items()
    }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            for response in responses.values():
                response.setdefault("headers", {}).update(RATE_LIMIT_HEADER_REFS)
            if method == "get":
                responses.setdefault(
                    "304", {"description": "Not modified: the `If-None-Match`/`If-Modified-Since` copy is current."}
                )
            for status_code, (name, _, _) in _ERROR_RESPONSES.items():
                responses.setdefault(status_code, {"$ref": f"#/components/responses/{name}"})
            if "requestBody" in operation:
                for status_code, (name, _, _) in _BODY_TOO_LARGE.items():
                    responses.setdefault(status_code, {"$ref": f"#/components/responses/{name}"})
    return result
