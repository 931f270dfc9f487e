"""CSV export of report rows: a header, then one row per dataclass, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets. Search
# queries are typed by anyone, so "=HYPERLINK(...)" must reach the spreadsheet as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """One value as CSV text: dates in ISO form, ``None`` empty, rates to four places, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


class CsvRow:
    """Mixin of report rows: ``csv_columns`` names the exported fields, in order (default: all)."""

    csv_columns: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def csv_header(cls) -> list[str]:
        return list(cls.csv_columns or [field.name for field in fields(cls)])  # type: ignore[arg-type]

    def csv_row(self) -> list[str]:
        return [csv_cell(getattr(self, name)) for name in self.csv_header()]


def csv_rows(row_type: type[CsvRow], rows: Iterable[Any]) -> Iterator[list[str]]:
    """The header of ``row_type`` (even for no rows), then each row; hand to ``csv.writer().writerows``."""
    yield row_type.csv_header()
    for row in rows:
        yield row.csv_row()
