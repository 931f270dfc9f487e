"""Shipping addresses: the rule for their free text, and how every page writes one out.

``address_lines`` is the one way an address is shown (checkout's review, an order's page):
one line each, the country by its name, and the town, region and postal code in the order
and on the lines the destination's post expects (``_LOCALITY_STYLES``).

The rule for free text is shared by the checkout form and the partner API.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

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


# --- The address and how it is written out ---------------------------------------------------


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2
    line2: str = ""
    region: str = ""


# Where the shop ships (ISO 3166-1 alpha-2): the checkout form's choices. Partner orders may
# name any country; one not listed here is shown by its code.
SHIPPING_COUNTRIES = (
    ("US", "United States"),
    ("CA", "Canada"),
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("NZ", "New Zealand"),
    ("DE", "Germany"),
    ("FR", "France"),
    ("ES", "Spain"),
    ("IT", "Italy"),
    ("NL", "Netherlands"),
    ("BE", "Belgium"),
    ("SE", "Sweden"),
    ("DK", "Denmark"),
    ("NO", "Norway"),
    ("FI", "Finland"),
)
_COUNTRY_NAMES = dict(SHIPPING_COUNTRIES)


def country_name(code: str) -> str:
    """The English name of a country we ship to; the code itself for any other."""
    return _COUNTRY_NAMES.get(code, code)


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


# The lines between the street and the country, by destination. North America and Australia
# put the town, the state and the ZIP on one line ("Springfield, IL 62704"; "Ottawa ON K1A 0B1");
# the UK and Ireland give the town, the county and the postcode a line each; New Zealand writes
# "Auckland 1010". The default is continental Europe's (and most of the world's)
# "10115 Berlin", with any region on a line of its own.
_LOCALITY_STYLES: Mapping[str, Callable[[ShippingAddress], list[str]]] = MappingProxyType(
    {
        "US": lambda address: [f"{address.city}, {_joined(address.region, address.postal_code)}"],
        "CA": lambda address: [_joined(address.city, address.region, address.postal_code)],
        "AU": lambda address: [_joined(address.city, address.region, address.postal_code)],
        "GB": lambda address: [address.city, address.region, address.postal_code],
        "IE": lambda address: [address.city, address.region, address.postal_code],
        "NZ": lambda address: [address.region, _joined(address.city, address.postal_code)],
    }
)


def _default_locality(address: ShippingAddress) -> list[str]:
    return [_joined(address.postal_code, address.city), address.region]


def address_lines(address: ShippingAddress) -> list[str]:
    """``address`` as written on a label, one line each, without blank lines; the country by its name."""
    locality = _LOCALITY_STYLES.get(address.country, _default_locality)(address)
    lines = [address.name, address.line1, address.line2, *locality, country_name(address.country)]
    return [line for line in lines if line]
