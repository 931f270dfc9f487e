"""What a book's title says beyond its words: the series it belongs to, and the keys it is known by.

Imported titles carry their series the Goodreads way, in a trailing parenthesis:
``Catching Fire (The Hunger Games, #2)``, ``Men at Arms (Discworld, #15; City Watch #2)``,
``The Twilight Collection (Twilight, #1-3)``. ``title_parts`` reads that; search ranks a
series' first volume first with it, and the book page can name the series.

``title_keys`` are the forms a shopper types for "exactly this book": the title with and
without its series parenthesis, without a leading article, in lower case with the
punctuation gone (``the hunger games`` → ``hunger games``). Search gives a query equal to
one of them the exact-title rank. The Postgres fallback computes the same key in SQL
(``cloudshelf_title_key``, created by ``search`` migration 0003); a test keeps the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A trailing parenthesis, and within it the first series and its volume: "(Discworld, #15; City Watch #2)".
_TRAILING_PARENTHESIS = re.compile(r"\s*\(([^()]*)\)\s*$")
_SERIES_VOLUME = re.compile(r"^(?P<name>[^#;]*)#\s*(?P<number>\d+(?:\.\d+)?)(?P<range>\s*[-\u2013]\s*\d+)?\s*(?:;|$)")
_TRAILING_COMMA = re.compile(r"[\s,]+$")
_APOSTROPHES = re.compile("['\u2019`]")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an) ")


@dataclass(frozen=True)
class TitleParts:
    """A title split into the book's own title and the series it names, if any."""

    base: str
    series: str = ""
    # The volume: 1, 2, 4.5; None for an omnibus ("#1-3") or a book outside a series.
    number: float | None = None


def title_parts(title: str) -> TitleParts:
    """``Catching Fire (The Hunger Games, #2)`` → ``TitleParts("Catching Fire", "The Hunger Games", 2.0)``."""
    found = _TRAILING_PARENTHESIS.search(title)
    if not found or "#" not in found.group(1):
        return TitleParts(base=title.strip())
    base = title[: found.start()].strip()
    volume = _SERIES_VOLUME.match(found.group(1).strip())
    if not volume or not base:
        return TitleParts(base=base or title.strip())
    number = None if volume.group("range") else float(volume.group("number"))
    return TitleParts(base=base, series=_TRAILING_COMMA.sub("", volume.group("name")).strip(), number=number)


def title_key(text: str) -> str:
    """``The Hunger Games!`` → ``hunger games``: lower case, no punctuation, no leading article."""
    # Letters and decimal digits stay (as Postgres' [[:alnum:]] has them; "½" does not);
    # every run of anything else becomes one space.
    kept = "".join(ch if ch.isalpha() or ch.isdecimal() else " " for ch in _APOSTROPHES.sub("", text.lower()))
    return _LEADING_ARTICLE.sub("", " ".join(kept.split()))


def title_keys(title: str) -> list[str]:
    """Every key a shopper may type for exactly this book: the whole title's, then without its parenthesis.

    No duplicates and none empty. The main title before a colon is *not* a key:
    "Harry Potter: Film Wizardry" is not what "harry potter" means.
    """
    keys: list[str] = []
    for form in (title, _TRAILING_PARENTHESIS.sub("", title)):
        key = title_key(form)
        if key and key not in keys:
            keys.append(key)
    return keys
