"""What a beacon may say, checked before anything is kept.

A beacon comes from an anonymous browser, so everything in it is untrusted: the body is
bounded before it is read, parsed strictly (no ``NaN``, no ``Infinity``), every field is
named and typed, and a value outside what a real page can measure is refused rather than
clipped. A refused beacon changes nothing: no row, no product view.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from analytics.models.rum import EffectiveConnectionType, NavigationType
from analytics.rum.routes import BOOK_ROUTE, page_routes

# The largest body read: a full beacon is about 200 bytes.
MAX_BEACON_BYTES = 2048
# Ten minutes: no timing of a page view a browser reports is longer; anything above is garbage.
MAX_TIMING_MS = 600_000.0
# Layout shift is unitless; real pages score under 1, a hundred is not a page.
MAX_CLS = 100.0
MAX_BOOK_ID = 2**63 - 1

TIMING_FIELDS = {"ttfb": "ttfb_ms", "dom_ready": "dom_ready_ms", "load": "load_ms", "lcp": "lcp_ms", "inp": "inp_ms"}
FIELDS = frozenset({"route", "book", "rate", "cls", "nav", "ect", *TIMING_FIELDS})


class BeaconError(ValueError):
    """A beacon that is refused: ``code`` for machines, the message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Beacon:
    """One validated beacon: the page it came from, its book (book pages), and its timings when sampled."""

    route_name: str
    route_class: str
    book_id: int | None = None
    sample_rate: float | None = None  # None: a view-only beacon (not sampled), no timings
    ttfb_ms: float | None = None
    dom_ready_ms: float | None = None
    load_ms: float | None = None
    lcp_ms: float | None = None
    inp_ms: float | None = None
    cls: float | None = None
    navigation_type: str = ""
    effective_connection_type: str = ""

    @property
    def is_timed(self) -> bool:
        """Whether it carries timings to keep (a sampled page view)."""
        return self.sample_rate is not None


def _refuse_constant(name: str) -> None:
    raise BeaconError("invalid_json", f"{name} is not a number JSON allows.")


def parse_body(body: bytes) -> dict[str, Any]:
    """The beacon's JSON object; ``BeaconError`` for anything else (bad UTF-8, bad JSON, ``NaN``, not an object)."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        if isinstance(error, BeaconError):
            raise
        raise BeaconError("invalid_json", "The beacon is not valid JSON.") from None
    except RecursionError:
        raise BeaconError("invalid_json", "The beacon is nested too deeply.") from None
    if not isinstance(data, dict):
        raise BeaconError("invalid_json", "The beacon must be a JSON object.")
    return data


def _number(data: dict[str, Any], field: str, maximum: float) -> float | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BeaconError("invalid_field", f"{field} must be a number.")
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= maximum:
        raise BeaconError("invalid_field", f"{field} must be between 0 and {maximum:g}.")
    return number


def _choice(data: dict[str, Any], field: str, choices: list[str]) -> str:
    value = data.get(field, "")
    if not isinstance(value, str) or value not in choices:
        raise BeaconError(
            "invalid_field", f"{field} must be one of: {', '.join(choice or '(empty)' for choice in choices)}."
        )
    return value


def _book_id(data: dict[str, Any], route_name: str) -> int | None:
    value = data.get("book")
    if value is None:
        return None
    if route_name != BOOK_ROUTE:
        raise BeaconError("invalid_field", f"book is only sent by the book page ({BOOK_ROUTE}).")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_BOOK_ID:
        raise BeaconError("invalid_field", "book must be a positive integer.")
    return value


def validate(data: dict[str, Any]) -> Beacon:
    """The ``Beacon`` ``data`` describes, or ``BeaconError`` naming the first thing wrong with it."""
    unknown = sorted(str(key)[:40] for key in data if key not in FIELDS)
    if unknown:
        raise BeaconError("unknown_field", f"Unknown fields: {', '.join(unknown[:5])}.")
    route_name = data.get("route")
    if not isinstance(route_name, str) or route_name not in page_routes():
        raise BeaconError("unknown_route", "route must name one of the site's pages.")
    book_id = _book_id(data, route_name)
    timings = {column: _number(data, field, MAX_TIMING_MS) for field, column in TIMING_FIELDS.items()}
    cls = _number(data, "cls", MAX_CLS)
    navigation_type = _choice(data, "nav", ["", *NavigationType.values])
    connection_type = _choice(data, "ect", EffectiveConnectionType.values)
    has_timings = cls is not None or any(value is not None for value in timings.values())
    rate = data.get("rate")
    if rate is None:
        if has_timings or navigation_type or connection_type:
            raise BeaconError("invalid_field", "Timings need the sampling rate (rate) they were taken at.")
        if book_id is None:
            raise BeaconError("empty_beacon", "The beacon carries neither timings nor a book.")
        return Beacon(route_name=route_name, route_class=page_routes()[route_name], book_id=book_id)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise BeaconError("invalid_field", "rate must be a number above 0 and at most 1.")
    if not has_timings:
        raise BeaconError("empty_beacon", "A sampled beacon must carry at least one timing.")
    return Beacon(
        route_name=route_name,
        route_class=page_routes()[route_name],
        book_id=book_id,
        sample_rate=float(rate),
        cls=cls,
        navigation_type=navigation_type,
        effective_connection_type=connection_type,
        **timings,
    )
