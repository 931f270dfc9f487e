"""Loading ``judgments.toml``: the judged queries, checked so a typo fails loudly, not as a miss.

Format (one table per query)::

    [[search]]
    query = "the kite runner"
    kind = "title"                 # one of SEARCH_KINDS
    expect = ["9781594480003"]     # ISBN-13s of the books meant, best first
    note = "optional"

    [[autocomplete]]
    prefix = "kite"
    kind = "title-prefix"          # one of AUTOCOMPLETE_KINDS
    expect = ["9781594480003"]
    authors = ["Khaled Hosseini"]  # optional: author suggestions that also count as a hit
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent / "judgments.toml"

SEARCH_KINDS = (
    "title",
    "partial-title",
    "author",
    "author-title",
    "series",
    "misspelling",
    "isbn",
    "language",
    "title-words",
)
AUTOCOMPLETE_KINDS = ("title-prefix", "author-prefix")

# The keys each section's tables may have: the required first.
_KEYS = {
    "search": (("query", "kind", "expect"), ("note",)),
    "autocomplete": (("prefix", "kind", "expect"), ("authors", "note")),
}
_KINDS = {"search": SEARCH_KINDS, "autocomplete": AUTOCOMPLETE_KINDS}


class JudgmentsError(ValueError):
    """The judgments file cannot be scored against: the message names the entry and what is wrong."""


@dataclass(frozen=True)
class Judgment:
    """One judged query (``section`` "search") or prefix (``section`` "autocomplete")."""

    section: str
    text: str
    kind: str
    expect: tuple[str, ...]
    authors: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Judgments:
    search: tuple[Judgment, ...]
    autocomplete: tuple[Judgment, ...]


def is_isbn13(text: str) -> bool:
    """Thirteen digits whose check digit is right (weights 1, 3, 1, 3…)."""
    if len(text) != 13 or not text.isascii() or not text.isdigit():
        return False
    return sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(text)) % 10 == 0


def load_judgments(path: Path = DEFAULT_PATH) -> Judgments:
    """The judgments in ``path``; raises ``JudgmentsError`` on anything malformed, naming the entry."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise JudgmentsError(f"{path}: cannot read it ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise JudgmentsError(f"{path}: not valid TOML ({error})") from None
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        raise JudgmentsError(f"{path}: unknown section(s) {', '.join(unknown)} (expected [[search]], [[autocomplete]])")
    sections = {section: _section(path, section, data.get(section, [])) for section in _KEYS}
    if not sections["search"] and not sections["autocomplete"]:
        raise JudgmentsError(f"{path}: no [[search]] or [[autocomplete]] entries")
    return Judgments(search=sections["search"], autocomplete=sections["autocomplete"])


def _section(path: Path, section: str, entries: Any) -> tuple[Judgment, ...]:
    if not isinstance(entries, list):
        raise JudgmentsError(f"{path}: {section} must be an array of tables ([[{section}]])")
    judgments = tuple(_judgment(path, section, number, entry) for number, entry in enumerate(entries, start=1))
    seen: set[str] = set()
    for judgment in judgments:
        if judgment.text.lower() in seen:
            raise JudgmentsError(f"{path}: [[{section}]] {judgment.text!r} is judged twice")
        seen.add(judgment.text.lower())
    return judgments


def _judgment(path: Path, section: str, number: int, entry: Any) -> Judgment:
    where = f"{path}: [[{section}]] #{number}"
    if not isinstance(entry, dict):
        raise JudgmentsError(f"{where}: not a table")
    required, optional = _KEYS[section]
    text_key = required[0]
    if isinstance(entry.get(text_key), str):
        where += f" ({text_key} {entry[text_key]!r})"
    # A misspelt key ("expected") explains a missing one: name it first.
    unknown = sorted(set(entry) - set(required) - set(optional))
    if unknown:
        raise JudgmentsError(
            f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(required + optional)})"
        )
    missing = [key for key in required if key not in entry]
    if missing:
        raise JudgmentsError(f"{where}: missing {', '.join(missing)}")
    text = entry[text_key]
    if not isinstance(text, str) or not text.strip():
        raise JudgmentsError(f"{where}: {text_key} must be a non-empty string")
    kind = entry["kind"]
    if kind not in _KINDS[section]:
        raise JudgmentsError(f"{where}: unknown kind {kind!r} (one of: {', '.join(_KINDS[section])})")
    expect = _strings(where, "expect", entry["expect"])
    if not expect:
        raise JudgmentsError(f"{where}: expect is empty (list the ISBN-13 of at least one book meant)")
    for isbn in expect:
        if not is_isbn13(isbn):
            raise JudgmentsError(f"{where}: {isbn!r} in expect is not an ISBN-13 (13 digits, right check digit)")
    if len(set(expect)) != len(expect):
        raise JudgmentsError(f"{where}: an ISBN is listed twice in expect")
    note = entry.get("note", "")
    if not isinstance(note, str):
        raise JudgmentsError(f"{where}: note must be a string")
    return Judgment(
        section=section,
        text=text,
        kind=kind,
        expect=expect,
        authors=_strings(where, "authors", entry.get("authors", [])),
        note=note,
    )


def _strings(where: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise JudgmentsError(f"{where}: {key} must be a list of strings")
    return tuple(item.strip() for item in value)
