"""orjson for every JSON body the API reads and writes: several times faster than ``json``.

DRF's serializers already turn decimals into strings and dates into ISO 8601 text, so
what reaches the renderer is plain data; ``_default`` covers the few other types that
may slip through (lazy translation strings, a stray ``Decimal``).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from django.conf import settings
from django.utils.functional import Promise
from rest_framework import parsers, renderers
from rest_framework.exceptions import ParseError


def _default(value: Any) -> Any:
    if isinstance(value, Decimal | Promise):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class OrjsonRenderer(renderers.BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259); no charset parameter

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Mapping[str, Any] | None = None
    ) -> bytes:
        if data is None:
            return b""
        option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if settings.DEBUG else 0)
        return orjson.dumps(data, default=_default, option=option)


class OrjsonParser(parsers.BaseParser):
    media_type = "application/json"
    renderer_class = OrjsonRenderer

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        try:
            return orjson.loads(stream.read())
        except orjson.JSONDecodeError as error:
            raise ParseError(f"The body is not valid JSON: {error}") from None
