"""The rule for free text on a shipping address, shared by the checkout form and the partner API.

An address ends up on a printed label, in a courier's CSV and in the admin, so it may hold
any letters of any script but no characters that control how text is shown: C0/C1 control
characters (a terminal escape, a forged line break in a CSV), the bidirectional overrides
and isolates (a label that reads differently from the data), and lone surrogates (which
UTF-8, and so the database, cannot store). Whitespace of every kind collapses to single
spaces first, so tabs and line breaks are tidied rather than refused. Zero-width joiners
and non-joiners stay allowed: Persian and Indic names need them.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError

ADDRESS_TEXT_ERROR = "Use letters, numbers and punctuation only."
# Embedding, override and isolate controls (U+202A to U+202E, U+2066 to U+2069).
_DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _is_refused(character: str) -> bool:
    return character in _DIRECTION_CONTROLS or unicodedata.category(character) in ("Cc", "Cs")


def address_text_clean(value: str) -> str:
    """``value`` with its whitespace collapsed; ``ValidationError`` if it holds a refused character."""
    text = " ".join(value.split())
    if any(_is_refused(character) for character in text):
        raise ValidationError(ADDRESS_TEXT_ERROR, code="invalid_characters")
    return text
