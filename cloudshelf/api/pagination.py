"""Keyset ("cursor") pagination that costs the same on page 1 and page 4,000.

The keyset is the queryset's own ``ORDER BY``, which must end in a unique column
(``id``). The cursor carries the sort values of the last row served; the next page is
"rows after those values", which the database answers by walking the index that
matches the order from that point (``WHERE popularity <= 17 AND (popularity < 17 OR
(popularity = 17 AND id > 4711)) ORDER BY popularity DESC, id LIMIT 25``). The leading
column's bound is a plain range condition so it becomes the index scan's start key even
when directions are mixed; ties on it are filtered from there.

A cursor is opaque to partners: base64url of ``{"o": <order fingerprint>, "v": [values]}``.
It is not signed (it holds nothing secret, and a forged one only starts the list
elsewhere), but every value is validated by its model field, and a cursor made for
another sort order is refused with 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import F, Field, Model, OrderBy, Q, QuerySet
from django.utils.http import urlencode
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

if TYPE_CHECKING:
    from rest_framework.views import APIView

# Real cursors are well under 200 characters; the cap keeps request lines far below server limits.
MAX_CURSOR_LENGTH = 512
EXAMPLE_CURSOR = "eyJvIjoiMWI2ZTdmYjQ1MmQzIiwidiI6WyIxNyIsNDcxMV19"


@dataclass(frozen=True)
class KeyColumn:
    name: str
    is_descending: bool
    field: Field  # the model field (``attname`` reads the row)
    value_field: Field  # what checks a value from a cursor (a generated column's output field)

    @property
    def db_column(self) -> str:
        return str(self.field.column)


def _f_name(expression: F) -> str:
    name: str = expression.name  # type: ignore[attr-defined]  # set by F.__init__; missing from the stubs
    return name


def _key_columns(queryset: QuerySet[Any] | KeysetSource) -> list[KeyColumn]:
    """The keyset of ``queryset``: its ``ORDER BY`` as (column, direction, model field)."""
    model: type[Model] = queryset.model
    columns = []
    for item in queryset.query.order_by:
        if isinstance(item, str):
            name, is_descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            name, is_descending = _f_name(item.expression), item.descending
        elif isinstance(item, F):
            name, is_descending = _f_name(item), False
        else:
            raise TypeError(f"keyset pagination cannot order by {item!r}")
        if name == "pk":
            name = model._meta.pk.name
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            field = None
        if not isinstance(field, Field):
            raise TypeError(f"keyset pagination orders by model columns only, not {name!r}")
        value_field = getattr(field, "output_field", None) or field
        columns.append(KeyColumn(name, is_descending, field, value_field))
    if not columns or not columns[-1].field.unique:
        raise TypeError("keyset pagination needs an order_by() ending in a unique column such as id")
    return columns


def _fingerprint(columns: Sequence[KeyColumn]) -> str:
    order = ",".join(f"{'-' if column.is_descending else ''}{column.name}" for column in columns)
    return hashlib.sha256(order.encode()).hexdigest()[:12]


def _after(columns: Sequence[KeyColumn], values: Sequence[Any]) -> Q:
    """Rows strictly after ``values`` in the order of ``columns``."""
    column, value = columns[0], values[0]
    beyond = Q(**{f"{column.name}__{'lt' if column.is_descending else 'gt'}": value})
    if len(columns) == 1:
        return beyond
    return beyond | (Q(**{column.name: value}) & _after(columns[1:], values[1:]))


def keyset_filter(columns: Sequence[KeyColumn], values: Sequence[Any]) -> Q:
    """``_after`` plus an inclusive range on the leading column, which the index can start from."""
    leading = columns[0]
    start = Q(**{f"{leading.name}__{'lte' if leading.is_descending else 'gte'}": values[0]})
    return start & _after(columns, values)


def _json_value(value: Any) -> str | int:
    if isinstance(value, int | str):
        return value
    if isinstance(value, date):  # datetime too: ISO 8601 keeps microseconds and the offset
        return value.isoformat()
    return str(value)  # Decimal: the exact digits


def _row_value(row: Model | Mapping[str, Any], column: KeyColumn) -> Any:
    """A sort value of a row, whether the queryset yields model instances or ``values()`` dicts."""
    if isinstance(row, Mapping):
        return row[column.name]
    return getattr(row, column.field.attname)


def keyset_where_sql(columns: Sequence[KeyColumn], values: Sequence[Any]) -> tuple[str, list[Any]]:
    """``keyset_filter`` as SQL (``<where>``, params) for hand-written queries over the model's table."""
    quote = connection.ops.quote_name

    def after(index: int) -> tuple[str, list[Any]]:
        column, value = columns[index], values[index]
        name = quote(column.db_column)
        beyond = f"{name} {'<' if column.is_descending else '>'} %s"
        if index == len(columns) - 1:
            return beyond, [value]
        rest, rest_params = after(index + 1)
        return f"({beyond} OR ({name} = %s AND {rest}))", [value, value, *rest_params]

    leading = columns[0]
    start = f"{quote(leading.db_column)} {'<=' if leading.is_descending else '>='} %s"
    rest, params = after(0)
    return f"{start} AND {rest}", [values[0], *params]


class KeysetSource(Protocol):
    """A source of rows that pages itself (instead of ``filter`` + slice on a queryset).

    ``keyset_rows`` gets the order as ``(database column, is_descending)`` pairs, the rows to
    skip as a SQL condition with its parameters (``None`` on the first page) and the number
    of rows wanted; plain values only, so a source needs nothing from this module.
    """

    model: type[Model]
    query: Any

    def keyset_rows(
        self, *, order: Sequence[tuple[str, bool]], after: tuple[str, list[Any]] | None, limit: int
    ) -> list[Any]: ...


def encode_cursor(columns: Sequence[KeyColumn], row: Model | Mapping[str, Any]) -> str:
    values = [_json_value(_row_value(row, column)) for column in columns]
    payload = orjson.dumps({"o": _fingerprint(columns), "v": values})
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode()


def decode_cursor(columns: Sequence[KeyColumn], cursor: str) -> list[Any]:
    """The key values in ``cursor``, each checked by its model field; ``ValidationError`` if not."""
    invalid = ValidationError({"cursor": ["This cursor is not valid; use the one from a previous response."]})
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(payload, dict) or payload.get("o") != _fingerprint(columns):
        raise ValidationError({"cursor": ["This cursor belongs to another sort order."]})
    raw_values = payload.get("v")
    if not isinstance(raw_values, list) or len(raw_values) != len(columns):
        raise invalid
    values = []
    for column, raw in zip(columns, raw_values, strict=True):
        if not isinstance(raw, str | int):
            raise invalid
        try:
            value = column.value_field.clean(raw, None)
        except (DjangoValidationError, TypeError, ValueError, OverflowError):
            raise invalid from None
        if value is None:
            raise invalid
        values.append(value)
    return values


class KeysetPagination(BasePagination):
    """``REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]``: ``?cursor=…&page_size=…`` over any ordered queryset."""

    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.next_cursor: str | None = None
        self.request: Request | None = None

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return int(settings.API_PAGE_SIZE)
        maximum = int(settings.API_MAX_PAGE_SIZE)
        # ASCII digits only, and no longer than the maximum: "²" passes isdigit() yet int() raises
        # on it, and int() refuses strings past 4,300 digits with an exception too.
        if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or not 1 <= int(raw) <= maximum:
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {maximum}."]})
        return int(raw)

    def paginate_queryset(
        self, queryset: QuerySet[Any] | KeysetSource, request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        page_size = self._page_size(request)
        columns = _key_columns(queryset)
        cursor = request.query_params.get(self.cursor_query_param)
        values = decode_cursor(columns, cursor) if cursor is not None else None
        if hasattr(queryset, "keyset_rows"):
            rows = queryset.keyset_rows(
                order=[(column.db_column, column.is_descending) for column in columns],
                after=keyset_where_sql(columns, values) if values is not None else None,
                limit=page_size + 1,
            )
        else:
            if values is not None:
                queryset = queryset.filter(keyset_filter(columns, values))
            rows = list(queryset[: page_size + 1])
        if len(rows) > page_size:
            rows = rows[:page_size]
            self.next_cursor = encode_cursor(columns, rows[-1])
        return rows

    def _next_link(self) -> str | None:
        if self.next_cursor is None or self.request is None:
            return None
        params = {**self.request.query_params.dict(), self.cursor_query_param: self.next_cursor}
        return self.request.build_absolute_uri(f"{self.request.path}?{urlencode(params)}")

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next_cursor": self.next_cursor, "next": self._next_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next_cursor", "next"],
            "properties": {
                "results": schema,
                "next_cursor": {
                    "type": "string",
                    "nullable": True,
                    "description": "Pass as `cursor` to get the next page; null on the last page.",
                    "example": EXAMPLE_CURSOR,
                },
                "next": {
                    "type": "string",
                    "format": "uri",
                    "nullable": True,
                    "description": "The next page's full URL; null on the last page.",
                    "example": f"https://shop.example.com/api/v1/books/?cursor={EXAMPLE_CURSOR}",
                },
            },
        }

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                "description": "Opaque position from a previous page's `next_cursor`.",
                "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH, "pattern": "^[A-Za-z0-9_-]+$"},
            },
            {
                "name": self.page_size_query_param,
                "in": "query",
                "required": False,
                "description": f"Items per page (default {settings.API_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PAGE_SIZE},
            },
        ]
