"""Bad input for the fuzz tests: hostile values, how they are encoded, and the tally of what was sent.

Values are ``str`` and may hold what a browser or a script can put in a URL or a form but
Python's ``str.encode`` refuses (lone surrogates): they are sent as the bytes
``surrogatepass`` gives, exactly as a careless client would send them.
"""

from __future__ import annotations

import os
from collections import Counter
from urllib.parse import quote_plus

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Hypothesis examples per endpoint and persona. With the fixed sweep, the default keeps
# tests/fuzz at about a minute on the 2-core CI box (some 5,000 requests);
# FUZZ_MAX_EXAMPLES=500 (for example) digs deeper locally.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))

# derandomize: the same examples on every run, so CI never fails on a new one by luck;
# the many fixed hostile values below and Hypothesis's own generators still cover a lot.
# database=None: nothing is replayed from (or written to) .hypothesis between runs.
settings.register_profile(
    "cloudshelf-fuzz",
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FUZZ_SETTINGS = settings.get_profile("cloudshelf-fuzz")

HOSTILE_VALUES: tuple[str, ...] = (
    # empty, blank and control characters
    "",
    " ",
    "\x00",
    "a\x00b",
    "\t\n\r",
    "\r\nX-Injected: 1",
    # lone surrogates (invalid UTF-8 once sent), bidi and zero-width characters
    "\ud800",
    "x\udfffy",
    "\u202egnp.exe",
    "\ufeff1",
    "1\u200b",
    # digits Python's isdigit() accepts but int() may not
    "²",
    "¹²³",
    "\N{ARABIC-INDIC DIGIT THREE}",
    "\N{ARABIC-INDIC DIGIT ONE}\N{ARABIC-INDIC DIGIT ZERO}",
    "\N{MATHEMATICAL BOLD DIGIT NINE}",
    "Ⅻ",
    # numbers at and beyond every limit
    "-1",
    "0",
    "-0",
    "1" + "0" * 30,
    "-" + "9" * 40,
    str(2**63),
    str(-(2**63) - 1),
    str(2**31),
    "1e309",
    "-1e309",
    "1e-400",
    "NaN",
    "inf",
    "-Infinity",
    "1.5",
    "0x10",
    "1_000",
    " 7 ",
    "+3",
    "0" * 500 + "1",
    # very long text (ASCII, Cyrillic, astral)
    "x" * 10_000,
    "книга " * 600,
    "🙂" * 1_000,
    # JSON, HTML, SQL, paths, format strings and encodings
    '{"a": [1, 2, {"b": null}]}',
    "[]",
    "null",
    "true",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "1; DROP TABLE catalog_book;--",
    "%",
    "%00",
    "%%32%65",
    "\\",
    "../../../../etc/passwd",
    "{0.__class__}",
    "%s%s%s%n",
    "javascript:alert(1)",
    "//evil.example/",
    "http://evil.example/",
)

_surrogate = st.integers(0xD800, 0xDFFF).map(chr)
_any_character = st.characters(exclude_categories=())
bad_values: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.text(_any_character, max_size=40),
    st.text(st.one_of(_any_character, _surrogate), min_size=1, max_size=10),
    st.integers().map(str),
    st.floats().map(repr),
    st.decimals(allow_nan=True).map(str),
    st.binary(max_size=30).map(lambda raw: raw.decode("latin-1")),
)


def encoded(value: str) -> str:
    """``value`` percent-encoded as a client would send it, lone surrogates included."""
    return quote_plus(value.encode("utf-8", "surrogatepass"))


def urlencoded(pairs: list[tuple[str, str]]) -> str:
    """``a=1&a=2&b=…``: repeated names stay repeated, in order."""
    return "&".join(f"{encoded(name)}={encoded(value)}" for name, value in pairs)


class Tally:
    """How many fuzzed requests were sent and what came back, for the run's summary line."""

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()

    def record(self, status: int) -> None:
        self.statuses[status] += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        by_status = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return f"{self.total} requests with bad input, {self.server_errors} server errors (5xx); by status: {by_status}"


TALLY = Tally()
