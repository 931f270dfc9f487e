"""Reading book import files (``manage.py import_books``): CSV and JSON Lines.

This module only parses and validates: every row becomes either a ``BookRecord`` (clean,
typed values ready for ``catalog.services.books_upsert``) or a ``RowError`` naming its line
and what is wrong with it, so one bad row never stops the good ones. It touches no database.
The format is documented in ``docs/import-format.md``; keep the two in step.

Files are streamed row by row, so a file of any length needs little memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.text import slugify

from catalog.isbn import is_valid_isbn13, normalize_isbn13, validate_isbn13

FileFormat = Literal["csv", "jsonl"]

FORMAT_BY_SUFFIX: dict[str, FileFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REQUIRED_COLUMNS = ("isbn13", "title", "authors", "price")
OPTIONAL_COLUMNS = (
    "subtitle",
    "description",
    "currency",
    "category",
    "publication",
    "language",
    "pages",
    "publisher",
    "cover_url",
    "stock",
    "average_rating",
    "ratings_count",
)
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)

# Limits: the model's column sizes, plus sane caps where the column is unbounded.
MAX_TITLE = 300
MAX_SUBTITLE = 300
MAX_DESCRIPTION = 20_000
MAX_AUTHOR_NAME = 200
MAX_AUTHORS = 20
MAX_PUBLISHER = 200
MAX_COVER_URL = 500
MAX_CATEGORY_NAME = 120
MAX_CATEGORY_DEPTH = 5
MAX_CATEGORY_PATH = 400
MAX_PRICE = Decimal("99999999.99")
MAX_PAGES = 100_000
MAX_COUNT = 2_147_483_647  # a Postgres integer
FIRST_YEAR, LAST_YEAR = 1400, 2100
# A CSV field may be this long before the parser gives up on it (Python's default is 128 KiB,
# which would turn an over-long description into a parser error instead of a clear reason).
CSV_FIELD_LIMIT = 64 * 1024 * 1024

_CURRENCY = re.compile(r"[A-Z]{3}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,4})?")
# [0-9], not \d: \d also matches other scripts' digits, which int() and date() would accept.
_YEAR = re.compile(r"[0-9]{4}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,20}")
# Longer number cells are refused unparsed: int() refuses over 4,300 digits with an exception.
MAX_NUMBER_TEXT = 50
_validate_url = URLValidator(schemes=["http", "https"])


class ImportFileError(Exception):
    """The file as a whole cannot be imported (missing, unreadable, not UTF-8, no usable header)."""


@dataclass(frozen=True, slots=True)
class BookRecord:
    """One valid row. ``None`` means "not given": a new book gets the default, an existing one keeps its value."""

    line: int
    isbn13: str
    title: str
    authors: tuple[str, ...]
    price: Decimal
    subtitle: str | None = None
    description: str | None = None
    currency: str | None = None
    category: tuple[str, ...] | None = None
    publication_date: date | None = None
    language: str | None = None
    page_count: int | None = None
    publisher: str | None = None
    cover_url: str | None = None
    stock: int | None = None
    external_average_rating: Decimal | None = None
    external_ratings_count: int | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A rejected row: the line it starts on and every reason it was refused."""

    line: int
    reason: str


def author_slug(name: str) -> str:
    """The slug authors are matched by: ``slugify`` of the name, or a stable hash for non-Latin names.

    ``slugify`` keeps ASCII only (author URLs use the ``slug`` path converter), so a name
    such as 村上春樹 would slug to nothing; a digest keeps it distinct and repeatable.
    """
    slug = slugify(name)[:220]
    if slug:
        return slug
    return "author-" + hashlib.sha256(name.encode()).hexdigest()[:12]


def detect_format(path: Path, requested: str | None = None) -> FileFormat:
    """The file's format: ``requested`` if given, otherwise from its extension."""
    if requested:
        if requested not in ("csv", "jsonl"):
            raise ImportFileError(f"Unknown format {requested!r}; use csv or jsonl.")
        return "csv" if requested == "csv" else "jsonl"
    try:
        return FORMAT_BY_SUFFIX[path.suffix.lower()]
    except KeyError:
        raise ImportFileError(
            f"{path}: cannot tell the format from the extension; name it .csv, .jsonl or .ndjson, or pass --format."
        ) from None


class BookFileReader:
    """Iterate over a file's rows as ``BookRecord`` or ``RowError``, in file order.

    Raises ``ImportFileError`` before the first row for problems with the file as a whole,
    and at the end if it held no rows at all. ``warnings`` collects things worth telling
    the person importing that reject nothing (unknown columns are ignored, for instance).
    """

    def __init__(self, path: Path, *, file_format: str | None = None) -> None:
        self.path = path
        self.file_format = detect_format(path, file_format)
        self.warnings: list[str] = []
        self._check_readable_utf8()

    def __iter__(self) -> Iterator[BookRecord | RowError]:
        rows = self._csv_rows() if self.file_format == "csv" else self._jsonl_rows()
        first_line_by_isbn: dict[str, int] = {}
        row_count = 0
        for line, fields in rows:
            row_count += 1
            if isinstance(fields, RowError):
                yield fields
                continue
            item = record_from_fields(fields, line=line)
            # A repeated ISBN is refused even when its first row was itself rejected: the file
            # is ambiguous about that book, and only its first row may say what it is.
            isbn = _valid_isbn_or_none(fields.get("isbn13"))
            first_line = first_line_by_isbn.setdefault(isbn, line) if isbn else line
            if first_line != line:
                duplicate = f"isbn13: {isbn} appears again (first on line {first_line})"
                item = RowError(line, duplicate if isinstance(item, BookRecord) else f"{item.reason}; {duplicate}")
            yield item
        if row_count == 0:
            raise ImportFileError(f"{self.path}: the file has no rows to import.")

    def _check_readable_utf8(self) -> None:
        """Fail early with a clear message, before any row is written, if the file cannot be read as UTF-8."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        line = 1
        try:
            with self.path.open("rb") as handle:
                if not handle.read(1):
                    raise ImportFileError(f"{self.path}: the file is empty.")
                handle.seek(0)
                while chunk := handle.read(1024 * 1024):
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as error:
                        line += chunk.count(b"\n", 0, error.start)
                        raise ImportFileError(
                            f"{self.path}: line {line} is not UTF-8 text (byte 0x{chunk[error.start]:02x}); "
                            "save the file as UTF-8 and try again."
                        ) from None
                    line += chunk.count(b"\n")
                decoder.decode(b"", final=True)
        except FileNotFoundError:
            raise ImportFileError(f"{self.path}: no such file.") from None
        except IsADirectoryError:
            raise ImportFileError(f"{self.path}: is a directory, not a file.") from None
        except UnicodeDecodeError:
            raise ImportFileError(f"{self.path}: the file ends in the middle of a UTF-8 character.") from None
        except OSError as error:
            raise ImportFileError(f"{self.path}: cannot be read ({error.strerror or error}).") from None

    def _csv_rows(self) -> Iterator[tuple[int, dict[str, str] | RowError]]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle, _csv_field_limit(CSV_FIELD_LIMIT):
            reader = csv.reader(handle, strict=True)
            try:
                header = next(reader, None)
            except csv.Error as error:
                raise ImportFileError(f"{self.path}: line 1 (the header) cannot be read: {error}.") from None
            if header is None:
                raise ImportFileError(f"{self.path}: the file is empty.")
            columns = self._columns_from_header(header)
            while True:
                start_line = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    yield start_line, RowError(start_line, f"the row cannot be parsed as CSV: {error}")
                    continue
                if not cells or cells == [""]:
                    continue  # blank line
                if len(cells) != len(columns):
                    yield (
                        start_line,
                        RowError(start_line, f"the row has {len(cells)} fields; the header has {len(columns)}"),
                    )
                    continue
                yield start_line, {name: value for name, value in zip(columns, cells, strict=True) if name}

    def _columns_from_header(self, header: list[str]) -> list[str]:
        """Column names (lower-cased; ``""`` for ignored columns), refusing a header without the required ones."""
        names = [name.strip().lower() for name in header]
        duplicated = sorted({name for name in names if name and names.count(name) > 1})
        if duplicated:
            raise ImportFileError(f"{self.path}: the header repeats the column(s) {', '.join(duplicated)}.")
        missing = [name for name in REQUIRED_COLUMNS if name not in names]
        if missing:
            raise ImportFileError(
                f"{self.path}: the header has no {', '.join(missing)} column(s); "
                f"the required columns are {', '.join(REQUIRED_COLUMNS)}."
            )
        unknown = [name for name in names if name and name not in KNOWN_COLUMNS]
        if unknown:
            self.warnings.append(f"ignored unknown column(s): {', '.join(unknown)}")
        return [name if name in KNOWN_COLUMNS else "" for name in names]

    def _jsonl_rows(self) -> Iterator[tuple[int, Mapping[str, object] | RowError]]:
        unknown_seen: list[str] = []
        with self.path.open(encoding="utf-8-sig") as handle:
            for line, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text.rstrip("\r\n"), parse_float=Decimal)
                except json.JSONDecodeError as error:
                    yield line, RowError(line, f"not valid JSON: {error.msg} (column {error.colno})")
                    continue
                except (ValueError, RecursionError) as error:
                    # e.g. an integer of more than 4,300 digits, or arrays nested thousands deep
                    yield line, RowError(line, f"not valid JSON: {_shown(error, 80)}")
                    continue
                if not isinstance(value, dict):
                    yield line, RowError(line, "each line must be a JSON object ({...})")
                    continue
                fields = {str(key).strip().lower(): item for key, item in value.items()}
                for key in fields:
                    if key not in KNOWN_COLUMNS and key not in unknown_seen:
                        unknown_seen.append(key)
                        self.warnings.append(f"ignored unknown field {_shown(key)}")
                yield line, fields


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """Raise the csv module's (process-wide) field size limit for the duration of a read."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def record_from_fields(fields: Mapping[str, object], *, line: int) -> BookRecord | RowError:
    """Validate one row's raw values; every problem in the row is reported, not just the first."""
    row = _Row(fields)
    isbn = row.isbn13()
    title = row.text("title", MAX_TITLE, required=True)
    authors = row.authors()
    price = row.price()
    record = BookRecord(
        line=line,
        isbn13=isbn or "",
        title=title or "",
        authors=authors or (),
        price=price if price is not None else Decimal(0),
        subtitle=row.text("subtitle", MAX_SUBTITLE),
        description=row.text("description", MAX_DESCRIPTION, multiline=True),
        currency=row.currency(),
        category=row.category(),
        publication_date=row.publication(),
        language=row.language(),
        page_count=row.whole_number("pages", minimum=1, maximum=MAX_PAGES),
        publisher=row.text("publisher", MAX_PUBLISHER),
        cover_url=row.cover_url(),
        stock=row.whole_number("stock", minimum=0, maximum=MAX_COUNT),
        external_average_rating=row.rating(),
        external_ratings_count=row.whole_number("ratings_count", minimum=0, maximum=MAX_COUNT),
    )
    # Every required value is present and valid exactly when no problem was recorded.
    return RowError(line, "; ".join(row.problems)) if row.problems else record


def _valid_isbn_or_none(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    isbn = normalize_isbn13(str(value))
    return isbn if is_valid_isbn13(isbn) else None


def _shown(value: object, limit: int = 40) -> str:
    """A value quoted for an error message, cut short so a 10 MB cell cannot flood the terminal."""
    text = str(value)
    if len(text) > limit:
        return repr(text[:limit]) + f"… ({len(text):,} characters)"
    return repr(text)


def _single_line(text: str) -> str:
    return " ".join(text.split())


class _Row:
    """The raw values of one row and the problems found in them so far."""

    def __init__(self, fields: Mapping[str, object]) -> None:
        self.fields = fields
        self.problems: list[str] = []

    def raw(self, name: str) -> object | None:
        """The value given for ``name``, or ``None`` when the cell is missing or blank."""
        value = self.fields.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return value

    def problem(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def scalar_text(self, name: str) -> str | None:
        """The value as text; numbers are accepted (a JSON title may be 1984), lists and objects are not."""
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.problem(name, "must be text")
            return None
        text = str(value)
        if "\x00" in text:
            self.problem(name, "contains a NUL character")
            return None
        return text

    def text(self, name: str, limit: int, *, required: bool = False, multiline: bool = False) -> str | None:
        raw = self.scalar_text(name)
        if raw is None:
            if required and self.raw(name) is None:
                self.problem(name, "required")
            return None
        # Markup and formula-looking text (<b>, =cmd()) are kept verbatim: they are stored as
        # text, and templates escape on output.
        text = raw.replace("\r\n", "\n").strip() if multiline else _single_line(raw)
        if len(text) > limit:
            self.problem(name, f"{len(text):,} characters; the limit is {limit:,}")
            return None
        return text

    def isbn13(self) -> str | None:
        raw = self.scalar_text("isbn13")
        if raw is None:
            if self.raw("isbn13") is None:
                self.problem("isbn13", "required")
            return None
        isbn = normalize_isbn13(raw)
        try:
            validate_isbn13(isbn)
        except ValidationError as error:
            self.problem("isbn13", f"{error.messages[0].rstrip('.')} (got {_shown(raw)})")
            return None
        return isbn

    def authors(self) -> tuple[str, ...] | None:
        value = self.raw("authors")
        names: list[str] = []
        if isinstance(value, list):
            if not all(isinstance(name, str) for name in value):
                self.problem("authors", "must be a list of names")
                return None
            names = [_single_line(name) for name in value]
        elif value is not None:
            text = self.scalar_text("authors")
            if text is None:
                return None
            names = [_single_line(name) for name in text.split(",")]
        names = [name for name in names if name]
        if not names:
            self.problem("authors", "required (at least one name)")
            return None
        unique: dict[str, str] = {}
        for name in names:
            if "\x00" in name:
                self.problem("authors", "contains a NUL character")
                return None
            if len(name) > MAX_AUTHOR_NAME:
                self.problem("authors", f"a name has {len(name):,} characters; the limit is {MAX_AUTHOR_NAME}")
                return None
            unique.setdefault(author_slug(name), name)  # the same author twice counts once
        if len(unique) > MAX_AUTHORS:
            self.problem("authors", f"{len(unique)} authors; the limit is {MAX_AUTHORS}")
            return None
        return tuple(unique.values())

    def decimal(self, name: str) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            self.problem(name, "must be a number")
            return None
        if isinstance(value, str) and len(value.strip()) > MAX_NUMBER_TEXT:
            self.problem(name, f"{_shown(value)} is not a number")
            return None
        try:
            number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
        except InvalidOperation:
            self.problem(name, f"{_shown(value)} is not a number")
            return None
        if not number.is_finite():
            self.problem(name, f"{_shown(value)} is not a number")
            return None
        return number

    def price(self) -> Decimal | None:
        price = self.decimal("price")
        if price is None:
            if self.raw("price") is None:
                self.problem("price", "required")
            return None
        if price < 0:
            self.problem("price", f"{_shown(price)} is negative")
        elif price > MAX_PRICE:
            self.problem("price", f"{_shown(price)} is too large")
        elif price != price.quantize(Decimal("0.01")):
            self.problem("price", f"{_shown(price)} has more than two decimal places")
        else:
            return price.quantize(Decimal("0.01"))
        return None

    def rating(self) -> Decimal | None:
        rating = self.decimal("average_rating")
        if rating is None:
            return None
        if not Decimal(0) <= rating <= Decimal(5):
            self.problem("average_rating", f"{_shown(rating)} is not between 0 and 5")
            return None
        return rating.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def whole_number(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            self.problem(name, "must be a whole number")
            return None
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
            number = int(value.strip())
        else:
            self.problem(name, f"{_shown(value)} is not a whole number")
            return None
        if not minimum <= number <= maximum:
            self.problem(name, f"{_shown(number)} is not between {minimum} and {maximum:,}")
            return None
        return number

    def currency(self) -> str | None:
        text = self.scalar_text("currency")
        if text is None:
            return None
        code = text.strip().upper()
        if not _CURRENCY.fullmatch(code):
            self.problem("currency", f"{_shown(text)} is not a three-letter currency code such as USD")
            return None
        return code

    def language(self) -> str | None:
        text = self.scalar_text("language")
        if text is None:
            return None
        code = text.strip().lower()
        if len(code) > 8 or not _LANGUAGE.fullmatch(code):
            self.problem("language", f"{_shown(text)} is not a language code such as en or fr")
            return None
        return code

    def publication(self) -> date | None:
        text = self.scalar_text("publication")
        if text is None:
            return None
        text = text.strip()
        try:
            if _YEAR.fullmatch(text):
                day = date(int(text), 1, 1)
            elif _DAY.fullmatch(text):
                day = date.fromisoformat(text)
            else:
                self.problem("publication", f"{_shown(text)} is not a year (1999) or a date (1999-12-31)")
                return None
        except ValueError:
            self.problem("publication", f"{_shown(text)} is not a real date")
            return None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            self.problem("publication", f"{_shown(text)} is not between the years {FIRST_YEAR} and {LAST_YEAR}")
            return None
        return day

    def category(self) -> tuple[str, ...] | None:
        value = self.raw("category")
        if value is None:
            return None
        if isinstance(value, list) and all(isinstance(name, str) for name in value):
            names = [_single_line(name) for name in value]
        else:
            text = self.scalar_text("category")
            if text is None:
                return None
            names = [_single_line(name) for name in text.split(">")]
        if any(not name for name in names):
            self.problem("category", f"{_shown(value)} has an empty level")
            return None
        if len(names) > MAX_CATEGORY_DEPTH:
            self.problem("category", f"{len(names)} levels; the limit is {MAX_CATEGORY_DEPTH}")
            return None
        for name in names:
            if "\x00" in name:
                self.problem("category", "contains a NUL character")
                return None
            if len(name) > MAX_CATEGORY_NAME:
                self.problem("category", f"a level has {len(name):,} characters; the limit is {MAX_CATEGORY_NAME}")
                return None
            if not slugify(name):
                self.problem("category", f"the level {_shown(name)} needs a Latin letter or digit")
                return None
        if len("/".join(slugify(name) for name in names)) > MAX_CATEGORY_PATH:
            self.problem("category", "the path is too long")
            return None
        return tuple(names)

    def cover_url(self) -> str | None:
        text = self.scalar_text("cover_url")
        if text is None:
            return None
        url = text.strip()
        if len(url) > MAX_COVER_URL:
            self.problem("cover_url", f"{len(url):,} characters; the limit is {MAX_COVER_URL}")
            return None
        try:
            _validate_url(url)
        except ValidationError:
            self.problem("cover_url", f"{_shown(url)} is not an http(s) URL")
            return None
        return url
