"""ISBN-13 normalisation and check-digit validation."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def normalize_isbn13(raw: str) -> str:
    """Strip the hyphens and spaces people write ISBNs with: ``978-0-306-40615-7`` → ``9780306406157``."""
    return "".join(ch for ch in str(raw) if ch not in "- \t")


def isbn13_check_digit(first_twelve: str) -> int:
    """The ISBN-13 check digit: weights 1,3,1,3… over the first twelve digits, mod 10."""
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return (10 - total % 10) % 10


def is_valid_isbn13(value: str) -> bool:
    """True when ``value`` is 13 ASCII digits with a 978/979 prefix and a correct check digit."""
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        return False
    if not value.startswith(("978", "979")):
        return False
    return isbn13_check_digit(value[:12]) == int(value[12])


def validate_isbn13(value: str) -> None:
    """Django validator: raises ``ValidationError`` explaining what is wrong with the ISBN."""
    if len(value) != 13 or not value.isascii() or not value.isdigit():
        raise ValidationError("An ISBN-13 has exactly 13 digits.", code="isbn_format")
    if not value.startswith(("978", "979")):
        raise ValidationError("An ISBN-13 starts with 978 or 979.", code="isbn_prefix")
    if isbn13_check_digit(value[:12]) != int(value[12]):
        raise ValidationError("The ISBN-13 check digit is wrong.", code="isbn_check_digit")
