"""The judged query set (search/relevance/judgments.toml) keeps the rules its header states.

Pure: reads the TOML file and data/goodbooks-dev.csv, touches no database or service. Each
rule is a function returning the problems it finds, so a failure names every offending
entry at once, and the same functions are shown to catch a broken entry.
"""

import csv
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
JUDGMENTS_PATH = ROOT / "search" / "relevance" / "judgments.toml"
CATALOG_PATH = ROOT / "data" / "goodbooks-dev.csv"

# The fewest queries of each kind; every kind listed here is allowed, no other.
SEARCH_KIND_MINIMUMS = {
    "title": 6,
    "partial-title": 6,
    "author": 6,
    "author-title": 6,
    "series": 6,
    "misspelling": 6,
    "isbn": 10,
    "language": 6,
    "title-words": 6,
}
AUTOCOMPLETE_KINDS = {"title-prefix", "author-prefix"}
SEARCH_KEYS = {"query", "kind", "expect", "note"}
AUTOCOMPLETE_KEYS = {"prefix", "kind", "expect", "authors", "note"}
MOST_LISTED = 5  # nDCG@5 and success@5 look no further

Entry = dict[str, Any]
Rule = Callable[[Entry, "Catalog"], list[str]]


@dataclass(frozen=True)
class Book:
    isbn: str
    title: str
    authors: tuple[str, ...]
    language: str
    ratings_count: int

    @property
    def first_author(self) -> str:
        return self.authors[0] if self.authors else ""

    @cached_property
    def words(self) -> tuple[str, ...]:
        """The words of the title and of every author: what a prefix is matched against."""
        return tuple(words(self.title)) + tuple(word for author in self.authors for word in words(author))


@dataclass(frozen=True)
class Catalog:
    books: dict[str, Book]

    @cached_property
    def authors(self) -> frozenset[str]:
        return frozenset(author for book in self.books.values() for author in book.authors)

    def by_first_author(self, name: str) -> list[Book]:
        return [book for book in self.books.values() if book.first_author == name]

    def volumes(self, series: str) -> list[float]:
        return [volume for book in self.books.values() for name, volume in series_of(book) if name == series]


def words(text: str) -> list[str]:
    """Lower-cased, accent-folded words; dots dropped, so "A.B.C." is "abc" and "Dr." is "dr"."""
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return re.findall(r"\w+", folded.replace(".", ""))


def without_article(tokens: list[str]) -> list[str]:
    return tokens[1:] if tokens[:1] == ["the"] else tokens


SERIES_SUFFIX = re.compile(r"\s*\(([^()]*)\)\s*$")
SERIES_PART = re.compile(r"^\s*(?P<name>.*?)[,\s]*#\s*(?P<volume>\d+(?:\.\d+)?)")


def bare_title(title: str) -> str:
    """The title without its series suffix: "Hogfather (Discworld, #20; Death, #4)" -> "Hogfather"."""
    return SERIES_SUFFIX.sub("", title)


def series_of(book: Book) -> list[tuple[str, float]]:
    """(series, volume) pairs of a title's suffix; "#1-3" counts as volume 1."""
    suffix = SERIES_SUFFIX.search(book.title)
    if suffix is None:
        return []
    parts = (SERIES_PART.match(part) for part in suffix.group(1).split(";"))
    return [(part["name"], float(part["volume"])) for part in parts if part is not None and part["name"]]


def isbn13_of(query: str) -> str | None:
    """The ISBN-13 a query spells (hyphens and spaces allowed), or None if the check digit fails."""
    digits = re.sub(r"[-\s]", "", query).upper()
    if re.fullmatch(r"\d{9}[\dX]", digits):
        checksum = sum((10 - position) * (10 if char == "X" else int(char)) for position, char in enumerate(digits))
        if checksum % 11:
            return None
        stem = "978" + digits[:9]
        return stem + str((10 - isbn13_weighted_sum(stem) % 10) % 10)
    if re.fullmatch(r"\d{13}", digits):
        return digits if isbn13_weighted_sum(digits) % 10 == 0 else None
    return None


def isbn13_weighted_sum(digits: str) -> int:
    return sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(digits))


def matches_prefix(typed: list[str], book: Book) -> bool:
    """Every typed word starts a word of the title or of one of the book's authors."""
    return all(any(word.startswith(part) for word in book.words) for part in typed)


@cache
def load_catalog() -> Catalog:
    with CATALOG_PATH.open(encoding="utf-8", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file))
    books = (
        Book(
            isbn=row["isbn13"],
            title=row["title"],
            authors=tuple(name.strip() for name in row["authors"].split(",") if name.strip()),
            language=row["language"],
            ratings_count=int(row["ratings_count"] or 0),
        )
        for row in rows
    )
    return Catalog(books={book.isbn: book for book in books})


@cache
def load_judgments() -> dict[str, Any]:
    with JUDGMENTS_PATH.open("rb") as toml_file:
        return tomllib.load(toml_file)


def search_entries() -> list[Entry]:
    entries: list[Entry] = load_judgments().get("search", [])
    return entries


def autocomplete_entries() -> list[Entry]:
    entries: list[Entry] = load_judgments().get("autocomplete", [])
    return entries


def expected_books(entry: Entry, catalog: Catalog) -> Iterator[Book]:
    return (catalog.books[isbn] for isbn in entry["expect"] if isbn in catalog.books)


def most_read_first(books: list[Book]) -> list[int]:
    return sorted((book.ratings_count for book in books), reverse=True)


# The rules, one function each: (entry, catalog) -> the problems found, each naming the entry.


def check_shape(entry: Entry, catalog: Catalog) -> list[str]:
    key = "query" if "query" in entry else "prefix"
    allowed = SEARCH_KEYS if key == "query" else AUTOCOMPLETE_KEYS
    problems = [f"{entry.get(key)!r}: unknown key {name!r}" for name in sorted(set(entry) - allowed)]
    if not isinstance(entry.get(key), str) or not entry[key].strip():
        problems.append(f"{entry!r}: no {key}")
    expect = entry.get("expect")
    if not isinstance(expect, list) or not 1 <= len(expect) <= MOST_LISTED:
        problems.append(f"{entry.get(key)!r}: expect must list 1 to {MOST_LISTED} ISBN-13s")
        return problems
    problems += [f"{entry[key]!r}: {isbn!r} is not in the dev catalog" for isbn in expect if isbn not in catalog.books]
    problems += [f"{entry[key]!r}: {isbn} listed twice" for isbn, count in Counter(expect).items() if count > 1]
    return problems


def check_title(entry: Entry, catalog: Catalog) -> list[str]:
    book = catalog.books[entry["expect"][0]]
    if without_article(words(entry["query"])) != without_article(words(bare_title(book.title))):
        return [f"{entry['query']!r} is not the title of {book.title!r}"]
    return []


def check_title_words(entry: Entry, catalog: Catalog) -> list[str]:
    book = catalog.books[entry["expect"][0]]
    missing = [word for word in words(entry["query"]) if word not in words(book.title)]
    return [f"{entry['query']!r}: {missing} not in the title {book.title!r}"] if missing else []


def check_author(entry: Entry, catalog: Catalog) -> list[str]:
    authors = {book.first_author for book in expected_books(entry, catalog)}
    if len(authors) != 1:
        return [f"{entry['query']!r}: the books' first authors differ: {sorted(authors)}"]
    (author,) = authors
    if not set(words(entry["query"])) <= set(words(author)):
        return [f"{entry['query']!r} does not name {author!r}"]
    own_books = catalog.by_first_author(author)
    listed = [catalog.books[isbn] for isbn in entry["expect"]]
    if [book.ratings_count for book in listed] != most_read_first(own_books)[: min(MOST_LISTED, len(own_books))]:
        return [f"{entry['query']!r}: expect is not {author}'s {MOST_LISTED} most-rated books, most rated first"]
    return []


def check_author_title(entry: Entry, catalog: Catalog) -> list[str]:
    book = catalog.books[entry["expect"][0]]
    query_words = set(words(entry["query"]))
    author_words, title_words = set(words(book.first_author)), set(words(book.title))
    if not (query_words & author_words and query_words & title_words - author_words):
        return [f"{entry['query']!r} does not hold both author and title words of {book.title!r}"]
    if query_words - author_words - title_words:
        return [f"{entry['query']!r}: {sorted(query_words - author_words - title_words)} not in {book.title!r}"]
    return []


def check_series(entry: Entry, catalog: Catalog) -> list[str]:
    query_words = set(without_article(words(entry["query"])))
    volumes: list[float] = []
    names: set[str] = set()
    for book in expected_books(entry, catalog):
        found = [(name, volume) for name, volume in series_of(book) if query_words <= set(words(name))]
        if not found:
            return [f"{entry['query']!r}: {book.title!r} is not in that series"]
        names.add(found[0][0])
        volumes.append(found[0][1])
    if len(names) != 1:
        return [f"{entry['query']!r}: the books belong to different series {sorted(names)}"]
    (name,) = names
    in_catalog = sorted(catalog.volumes(name))
    if volumes != sorted(volumes) or volumes[0] != in_catalog[0]:
        return [f"{entry['query']!r}: volumes {volumes} not in order from the lowest present ({in_catalog[0]})"]
    if len(volumes) != min(MOST_LISTED, len(in_catalog)):
        return [f"{entry['query']!r}: lists {len(volumes)} of the series' {len(in_catalog)} books"]
    return []


def check_misspelling(entry: Entry, catalog: Catalog) -> list[str]:
    book = catalog.books[entry["expect"][0]]
    spelled = set(words(book.title)) | {word for author in book.authors for word in words(author)}
    if not [word for word in words(entry["query"]) if len(word) >= 5 and word not in spelled]:
        return [f"{entry['query']!r} has no misspelt word of 5+ letters against {book.title!r}"]
    return []


def check_isbn(entry: Entry, catalog: Catalog) -> list[str]:
    if len(entry["expect"]) != 1 or isbn13_of(entry["query"]) != entry["expect"][0]:
        return [f"{entry['query']!r} is not a valid ISBN of {entry['expect']}"]
    return []


def check_language(entry: Entry, catalog: Catalog) -> list[str]:
    book = catalog.books[entry["expect"][0]]
    if book.language in {"", "en"}:
        return [f"{entry['query']!r}: {book.title!r} is not in another language"]
    return check_title_words(entry, catalog)


def check_autocomplete(entry: Entry, catalog: Catalog) -> list[str]:
    prefix = entry["prefix"]
    typed = words(prefix)
    if not typed or not 2 <= len(typed[-1]) <= 5:
        return [f"{prefix!r}: the word being typed must have 2 to 5 letters"]
    if entry["kind"] == "author-prefix" and not entry.get("authors"):
        return [f"{prefix!r}: an author-prefix entry names the author(s) meant"]
    authors = entry.get("authors", [])
    problems = [f"{prefix!r}: no book is by {author!r}" for author in authors if author not in catalog.authors]
    problems += [
        f"{prefix!r}: author {author!r} does not match"
        for author in authors
        if not all(any(word.startswith(part) for word in words(author)) for part in typed)
    ]
    listed = list(expected_books(entry, catalog))
    problems += [f"{prefix!r}: {book.title!r} does not match" for book in listed if not matches_prefix(typed, book)]
    matching = [book for book in catalog.books.values() if matches_prefix(typed, book)]
    if [book.ratings_count for book in listed] != most_read_first(matching)[: len(listed)]:
        problems.append(f"{prefix!r}: expect is not the most-read matching books, most read first")
    return problems


SEARCH_RULES: dict[str, Rule] = {
    "title": check_title,
    "partial-title": check_title_words,
    "author": check_author,
    "author-title": check_author_title,
    "series": check_series,
    "misspelling": check_misspelling,
    "isbn": check_isbn,
    "language": check_language,
    "title-words": check_title_words,
}


def search_problems(entry: Entry, catalog: Catalog) -> list[str]:
    problems = check_shape(entry, catalog)
    if entry.get("kind") not in SEARCH_RULES:
        return [*problems, f"{entry.get('query')!r}: unknown kind {entry.get('kind')!r}"]
    # The kind's rule reads the listed books: only once they all exist.
    return problems or SEARCH_RULES[entry["kind"]](entry, catalog)


def autocomplete_problems(entry: Entry, catalog: Catalog) -> list[str]:
    problems = check_shape(entry, catalog)
    if entry.get("kind") not in AUTOCOMPLETE_KINDS:
        return [*problems, f"{entry.get('prefix')!r}: unknown kind {entry.get('kind')!r}"]
    return problems or check_autocomplete(entry, catalog)


def duplicates(texts: list[str]) -> list[str]:
    counts = Counter(" ".join(text.casefold().split()) for text in texts)
    return sorted(text for text, count in counts.items() if count > 1)


# The tests.


def test_the_file_holds_only_search_and_autocomplete_entries() -> None:
    assert set(load_judgments()) == {"search", "autocomplete"}


def test_there_are_enough_queries_of_every_kind() -> None:
    search_kinds = Counter(entry.get("kind") for entry in search_entries())
    short_prefixes = [entry for entry in autocomplete_entries() if 2 <= len(entry["prefix"].strip()) <= 3]

    assert len(search_entries()) >= 110
    assert len(autocomplete_entries()) >= 40
    assert len(short_prefixes) >= 10
    assert {kind: count for kind, count in SEARCH_KIND_MINIMUMS.items() if search_kinds[kind] < count} == {}
    assert set(search_kinds) <= set(SEARCH_KIND_MINIMUMS)


def test_no_query_or_prefix_is_judged_twice() -> None:
    assert duplicates([entry["query"] for entry in search_entries()]) == []
    assert duplicates([entry["prefix"] for entry in autocomplete_entries()]) == []


def test_every_search_entry_keeps_the_rules_of_its_kind() -> None:
    catalog = load_catalog()

    assert [problem for entry in search_entries() for problem in search_problems(entry, catalog)] == []


def test_every_autocomplete_entry_lists_the_most_read_books_its_prefix_matches() -> None:
    catalog = load_catalog()

    assert [problem for entry in autocomplete_entries() for problem in autocomplete_problems(entry, catalog)] == []


# The rules catch a broken entry (the entries above are all right, so show each rule failing).

MAGIC_BITES, MAGIC_BURNS, BIG_MAGIC = "9780441014897", "9780441015832", "9781594634710"
ORWELL_DOWN_AND_OUT, ORWELL_CATALONIA = "9780156262248", "9780156421171"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"query": "magic bites", "kind": "title", "expect": ["9780000000000"]}, "not in the dev catalog"),
        ({"query": "magic bites", "kind": "title", "expect": [MAGIC_BITES, MAGIC_BITES]}, "listed twice"),
        ({"query": "magic bites", "kind": "title", "expect": []}, "expect must list"),
        ({"query": "magic bites", "kind": "tittle", "expect": [MAGIC_BITES]}, "unknown kind"),
        ({"query": "magic bites", "kind": "title", "expect": [MAGIC_BITES], "grade": 3}, "unknown key"),
        ({"query": "magic burns", "kind": "title", "expect": [MAGIC_BITES]}, "is not the title"),
        ({"query": "magic bites", "kind": "partial-title", "expect": [BIG_MAGIC]}, "not in the title"),
        ({"query": "orwell", "kind": "author", "expect": [ORWELL_CATALONIA, ORWELL_DOWN_AND_OUT]}, "most-rated"),
        ({"query": "orwell", "kind": "author", "expect": [ORWELL_DOWN_AND_OUT, BIG_MAGIC]}, "first authors differ"),
        ({"query": "kate daniels", "kind": "series", "expect": [MAGIC_BURNS, MAGIC_BITES]}, "not in order"),
        ({"query": "kate daniels", "kind": "series", "expect": [MAGIC_BURNS]}, "not in order from the lowest"),
        ({"query": "magic bites", "kind": "misspelling", "expect": [MAGIC_BITES]}, "no misspelt word"),
        ({"query": "978-0-441-01489-8", "kind": "isbn", "expect": [MAGIC_BITES]}, "not a valid ISBN"),
        ({"query": "magic bites", "kind": "language", "expect": [MAGIC_BITES]}, "not in another language"),
    ],
)
def test_a_broken_search_entry_is_reported(entry: Entry, problem: str) -> None:
    problems = search_problems(entry, load_catalog())

    assert any(problem in found for found in problems), problems


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"prefix": "magic", "kind": "title-prefix", "expect": [BIG_MAGIC, MAGIC_BITES]}, "most-read"),
        ({"prefix": "magic", "kind": "title-prefix", "expect": [ORWELL_CATALONIA]}, "does not match"),
        ({"prefix": "orwel", "kind": "author-prefix", "expect": [ORWELL_DOWN_AND_OUT]}, "names the author"),
        (
            {"prefix": "orwel", "kind": "author-prefix", "expect": [ORWELL_DOWN_AND_OUT], "authors": ["G. Orwell"]},
            "no book is by",
        ),
        ({"prefix": "magicb", "kind": "title-prefix", "expect": [MAGIC_BITES]}, "2 to 5 letters"),
    ],
)
def test_a_broken_autocomplete_entry_is_reported(entry: Entry, problem: str) -> None:
    problems = autocomplete_problems(entry, load_catalog())

    assert any(problem in found for found in problems), problems


def test_isbn_spellings_are_read_with_their_check_digit() -> None:
    assert isbn13_of("978-0-441-01489-7") == MAGIC_BITES
    assert isbn13_of("0441014895") == MAGIC_BITES
    assert isbn13_of("0-441-01489-4") is None
    assert isbn13_of("magic") is None
