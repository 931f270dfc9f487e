"""``manage.py import_books``: CSV and JSON Lines upserts, row-level rejections, idempotency."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Author, Book, BookAuthor, Category, Inventory
from catalog.signals import books_changed
from tests.factories import AuthorFactory, BookFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """UserFactory hashes a password for every reviewer; PBKDF2 would make that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


HOBBIT = "9780306406157"
PRIDE = "9780141439518"
DUNE = "9780441172719"
ALL_COLUMNS = [
    "isbn13",
    "title",
    "authors",
    "description",
    "price",
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
]


def write_csv(tmp_path: Path, rows: list[dict[str, str]], *, columns: list[str] | None = None) -> Path:
    path = tmp_path / "books.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or ALL_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_import(path: Path, *args: str) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("import_books", str(path), *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def run_failing_import(path: Path, *args: str) -> tuple[str, str, CommandError]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("import_books", str(path), *args, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue(), raised.value


def summary(stdout: str) -> str:
    """The counts of the summary line, without the path and the timing."""
    line = next(line for line in stdout.splitlines() if " created, " in line)
    return line.split(": ", 1)[1].rsplit(" (", 1)[0]


def hobbit_row(**overrides: str) -> dict[str, str]:
    row = {
        "isbn13": "978-0-306-40615-7",
        "title": "The Hobbit",
        "authors": "J. R. R. Tolkien, Christopher Tolkien",
        "description": "There and back again.",
        "price": "12.99",
        "currency": "usd",
        "category": "Fiction > Fantasy > Epic Fantasy",
        "publication": "1937-09-21",
        "language": "EN",
        "pages": "310",
        "publisher": "Allen & Unwin",
        "cover_url": "https://covers.example.com/hobbit.jpg",
        "stock": "7",
        "average_rating": "4.27",
        "ratings_count": "1000",
    }
    return row | overrides


def minimal_row(isbn13: str, title: str, **overrides: str) -> dict[str, str]:
    return {"isbn13": isbn13, "title": title, "authors": "Jane Austen", "price": "8.49"} | overrides


def catalog_snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every imported value, including timestamps, to prove a rerun wrote nothing."""
    return {
        "books": list(Book.objects.order_by("isbn13").values_list()),
        "book_authors": list(BookAuthor.objects.order_by("pk").values_list()),
        "inventory": list(Inventory.objects.order_by("pk").values_list()),
        "authors": list(Author.objects.order_by("pk").values_list()),
        "categories": list(Category.objects.order_by("pk").values_list()),
    }


def test_it_creates_a_book_from_a_csv_row_with_every_column(tmp_path):
    path = write_csv(tmp_path, [hobbit_row()])

    stdout, stderr = run_import(path)

    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 0 rejected"
    assert stderr == ""
    book = Book.objects.select_related("category", "inventory").get(isbn13=HOBBIT)
    assert (book.title, book.slug, book.description, book.price, book.currency) == (
        "The Hobbit",
        "the-hobbit",
        "There and back again.",
        Decimal("12.99"),
        "USD",
    )
    assert (book.publication_date, book.language, book.page_count, book.publisher, book.cover_url) == (
        date(1937, 9, 21),
        "en",
        310,
        "Allen & Unwin",
        "https://covers.example.com/hobbit.jpg",
    )
    assert book.category.name_path == "Fiction > Fantasy > Epic Fantasy"
    assert book.inventory.stock_on_hand == 7
    assert book.author_names == ["J. R. R. Tolkien", "Christopher Tolkien"]


def test_it_creates_books_from_a_jsonl_file_with_numbers_and_lists(tmp_path):
    lines = [
        {"isbn13": HOBBIT, "title": "The Hobbit", "authors": ["J. R. R. Tolkien"], "price": 12.99, "publication": 1937},
        {"isbn13": PRIDE, "title": "Pride and Prejudice", "authors": "Jane Austen", "price": "8.49", "stock": 3},
        {"isbn13": DUNE, "title": "Dune", "authors": ["Frank Herbert"], "price": 9, "category": ["Fiction", "SF"]},
    ]
    path = write_text(tmp_path, "books.ndjson", "\n".join(json.dumps(line) for line in lines) + "\n")

    stdout, stderr = run_import(path)

    assert summary(stdout) == "3 created, 0 updated, 0 unchanged, 0 rejected"
    assert stderr == ""
    books = {book.isbn13: book for book in Book.objects.select_related("category", "inventory")}
    assert (books[HOBBIT].price, books[HOBBIT].publication_date) == (Decimal("12.99"), date(1937, 1, 1))
    assert (books[PRIDE].price, books[PRIDE].inventory.stock_on_hand) == (Decimal("8.49"), 3)
    assert (books[DUNE].price, books[DUNE].category.path) == (Decimal("9.00"), "fiction/sf")


def test_a_file_with_only_the_required_columns_gives_new_books_the_defaults(tmp_path):
    path = write_csv(
        tmp_path, [minimal_row(PRIDE, "Pride and Prejudice")], columns=["isbn13", "title", "authors", "price"]
    )

    stdout, _ = run_import(path)

    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 0 rejected"
    book = Book.objects.select_related("inventory").get(isbn13=PRIDE)
    assert (book.currency, book.language, book.category_id, book.publication_date, book.page_count) == (
        "USD",
        "en",
        None,
        None,
        None,
    )
    assert (book.description, book.publisher, book.cover_url) == ("", "", "")
    assert (book.inventory.stock_on_hand, book.average_rating, book.ratings_count) == (0, Decimal("0.00"), 0)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"isbn13": "97803064061"}, "isbn13: An ISBN-13 has exactly 13 digits (got '97803064061')"),
        ({"isbn13": "9780306406158"}, "isbn13: The ISBN-13 check digit is wrong (got '9780306406158')"),
        ({"isbn13": "1234567890128"}, "isbn13: An ISBN-13 starts with 978 or 979 (got '1234567890128')"),
        ({"isbn13": ""}, "isbn13: required"),
        ({"title": "  "}, "title: required"),
        ({"authors": " , "}, "authors: required (at least one name)"),
        ({"price": ""}, "price: required"),
        ({"price": "-1.00"}, "price: '-1.00' is negative"),
        ({"price": "twelve"}, "price: 'twelve' is not a number"),
        ({"price": "12,99"}, "price: '12,99' is not a number"),
        ({"price": "12.999"}, "price: '12.999' has more than two decimal places"),
        ({"publication": "31/12/1999"}, "publication: '31/12/1999' is not a year (1999) or a date (1999-12-31)"),
        ({"publication": "1999-02-30"}, "publication: '1999-02-30' is not a real date"),
        ({"average_rating": "5.5"}, "average_rating: '5.5' is not between 0 and 5"),
        ({"average_rating": "-0.1"}, "average_rating: '-0.1' is not between 0 and 5"),
        ({"ratings_count": "many"}, "ratings_count: 'many' is not a whole number"),
        ({"currency": "US$"}, "currency: 'US$' is not a three-letter currency code such as USD"),
        ({"language": "english"}, "language: 'english' is not a language code such as en or fr"),
        ({"pages": "300pp"}, "pages: '300pp' is not a whole number"),
        ({"stock": "-3"}, "stock: '-3' is not between 0 and 2,147,483,647"),
        ({"title": "x" * 301}, "title: 301 characters; the limit is 300"),
        ({"publisher": "p" * 201}, "publisher: 201 characters; the limit is 200"),
        ({"cover_url": "javascript:alert(1)"}, "cover_url: 'javascript:alert(1)' is not an http(s) URL"),
        ({"category": "Fiction > > Fantasy"}, "category: 'Fiction > > Fantasy' has an empty level"),
        ({"description": "bad\x00byte"}, "description: contains a NUL character"),
    ],
)
def test_a_bad_row_is_reported_with_its_line_number_and_the_good_rows_still_load(tmp_path, overrides, reason):
    rows = [
        minimal_row(PRIDE, "Pride and Prejudice"),
        hobbit_row(**overrides),
        minimal_row(DUNE, "Dune"),
    ]
    path = write_csv(tmp_path, rows)

    stdout, stderr, error = run_failing_import(path)

    assert stderr == f"line 3: {reason}\n"
    assert summary(stdout) == "2 created, 0 updated, 0 unchanged, 1 rejected"
    assert str(error) == "1 row(s) rejected; see the reasons above. The other rows loaded."
    assert error.returncode == 1
    assert set(Book.objects.values_list("isbn13", flat=True)) == {PRIDE, DUNE}


def test_every_problem_of_a_row_is_reported_together(tmp_path):
    path = write_csv(tmp_path, [hobbit_row(price="-1", average_rating="9", pages="0")])

    _, stderr, _ = run_failing_import(path)

    assert stderr == (
        "line 2: price: '-1' is negative; pages: '0' is not between 1 and 100,000; "
        "average_rating: '9' is not between 0 and 5\n"
    )
    assert not Book.objects.exists()


def test_a_repeated_isbn_is_rejected_on_its_later_line(tmp_path):
    rows = [minimal_row(PRIDE, "Pride and Prejudice"), minimal_row("978-0141-439518", "Pride and Prejudice again")]
    path = write_csv(tmp_path, rows)

    stdout, stderr, _ = run_failing_import(path)

    assert stderr == "line 3: isbn13: 9780141439518 appears again (first on line 2)\n"
    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 1 rejected"
    assert list(Book.objects.values_list("title", flat=True)) == ["Pride and Prejudice"]


def test_line_numbers_count_the_lines_of_quoted_multiline_cells(tmp_path):
    rows = [minimal_row(PRIDE, "Pride", description="one\ntwo\nthree"), minimal_row(DUNE, "Dune", price="x")]
    path = write_csv(tmp_path, rows)

    _, stderr, _ = run_failing_import(path)

    assert stderr == "line 5: price: 'x' is not a number\n"
    assert Book.objects.get(isbn13=PRIDE).description == "one\ntwo\nthree"


def test_a_csv_row_with_the_wrong_number_of_fields_is_rejected(tmp_path):
    path = write_text(tmp_path, "books.csv", f"isbn13,title,authors,price\n{PRIDE},Pride,Jane Austen,8.49,extra\n")

    stdout, stderr, _ = run_failing_import(path)

    assert stderr == "line 2: the row has 5 fields; the header has 4\n"
    assert summary(stdout) == "0 created, 0 updated, 0 unchanged, 1 rejected"
    assert not Book.objects.exists()


def test_bad_json_lines_are_reported_with_their_line_numbers(tmp_path):
    good = json.dumps({"isbn13": PRIDE, "title": "Pride", "authors": ["Jane Austen"], "price": "8.49"})
    path = write_text(tmp_path, "books.jsonl", f'{good}\n\n{{"isbn13": "{DUNE}", "title": \n["not", "an object"]\n')

    stdout, stderr, _ = run_failing_import(path)

    assert stderr == (
        "line 3: not valid JSON: Expecting value (column 38)\nline 4: each line must be a JSON object ({...})\n"
    )
    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 2 rejected"
    assert list(Book.objects.values_list("isbn13", flat=True)) == [PRIDE]


def test_json_values_of_the_wrong_type_are_rejected(tmp_path):
    line = {"isbn13": PRIDE, "title": {"text": "Pride"}, "authors": [1, 2], "price": True}
    path = write_text(tmp_path, "books.jsonl", json.dumps(line) + "\n")

    _, stderr, _ = run_failing_import(path)

    assert stderr == "line 1: title: must be text; authors: must be a list of names; price: must be a number\n"
    assert not Book.objects.exists()


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write_csv(tmp_path, [hobbit_row(), minimal_row(PRIDE, "Pride and Prejudice")])
    run_import(path)
    before = catalog_snapshot()

    stdout, stderr = run_import(path)

    assert summary(stdout) == "0 created, 0 updated, 2 unchanged, 0 rejected"
    assert stderr == ""
    assert catalog_snapshot() == before


def test_a_changed_price_updates_that_book_only(tmp_path):
    run_import(write_csv(tmp_path, [hobbit_row(), minimal_row(PRIDE, "Pride and Prejudice")]))
    pride_before = Book.objects.values().get(isbn13=PRIDE)
    hobbit_before = Book.objects.get(isbn13=HOBBIT)

    stdout, _ = run_import(write_csv(tmp_path, [hobbit_row(price="14.49"), minimal_row(PRIDE, "Pride and Prejudice")]))

    assert summary(stdout) == "0 created, 1 updated, 1 unchanged, 0 rejected"
    hobbit = Book.objects.get(isbn13=HOBBIT)
    assert hobbit.price == Decimal("14.49")
    assert hobbit.updated_at > hobbit_before.updated_at
    assert (hobbit.title, hobbit.author_names) == (hobbit_before.title, hobbit_before.author_names)
    assert Book.objects.values().get(isbn13=PRIDE) == pride_before


def test_an_update_keeps_values_the_file_leaves_out(tmp_path):
    run_import(write_csv(tmp_path, [hobbit_row()]))

    stdout, _ = run_import(write_csv(tmp_path, [minimal_row(HOBBIT, "The Hobbit", authors="J. R. R. Tolkien")]))

    assert summary(stdout) == "0 created, 1 updated, 0 unchanged, 0 rejected"
    book = Book.objects.select_related("inventory", "category").get(isbn13=HOBBIT)
    assert (book.price, book.author_names) == (Decimal("8.49"), ["J. R. R. Tolkien"])
    assert (book.publisher, book.page_count, book.inventory.stock_on_hand) == ("Allen & Unwin", 310, 7)
    assert book.category.path == "fiction/fantasy/epic-fantasy"
    assert (book.external_average_rating, book.external_ratings_count) == (Decimal("4.27"), 1000)


def test_a_changed_stock_or_title_updates_the_inventory_and_the_slug(tmp_path):
    run_import(write_csv(tmp_path, [hobbit_row()]))

    stdout, _ = run_import(write_csv(tmp_path, [hobbit_row(title="The Hobbit, Annotated", stock="0")]))

    assert summary(stdout) == "0 created, 1 updated, 0 unchanged, 0 rejected"
    book = Book.objects.select_related("inventory").get(isbn13=HOBBIT)
    assert (book.title, book.slug, book.inventory.stock_on_hand) == ("The Hobbit, Annotated", "the-hobbit-annotated", 0)


def test_authors_keep_their_credit_order_and_existing_authors_are_matched_by_slug(tmp_path):
    existing = AuthorFactory(name="Terry Pratchett", slug="terry-pratchett")
    path = write_csv(
        tmp_path,
        [minimal_row("9780552166591", "Good Omens", authors="Neil Gaiman, terry  PRATCHETT, Neil Gaiman")],
    )

    run_import(path)

    book = Book.objects.get(isbn13="9780552166591")
    links = list(book.book_authors.order_by("position").values_list("position", "author__name", "author_id"))
    gaiman = Author.objects.get(slug="neil-gaiman")
    assert links == [(0, "Neil Gaiman", gaiman.pk), (1, "Terry Pratchett", existing.pk)]
    assert Author.objects.count() == 2


def test_reordered_authors_update_the_credit_order(tmp_path):
    run_import(write_csv(tmp_path, [hobbit_row()]))

    stdout, _ = run_import(write_csv(tmp_path, [hobbit_row(authors="Christopher Tolkien, J. R. R. Tolkien")]))

    assert summary(stdout) == "0 created, 1 updated, 0 unchanged, 0 rejected"
    assert Book.objects.get(isbn13=HOBBIT).author_names == ["Christopher Tolkien", "J. R. R. Tolkien"]


def test_a_category_path_is_created_with_its_parents_and_reused_by_slug(tmp_path):
    rows = [
        minimal_row(PRIDE, "Pride", category="Fiction > Romance > Historical Romance"),
        minimal_row(DUNE, "Dune", category="fiction >  science   fiction"),
        minimal_row(HOBBIT, "The Hobbit", category="FICTION"),
    ]

    run_import(write_csv(tmp_path, rows))

    categories = list(Category.objects.order_by("path").values_list("path", "name_path", "depth"))
    assert categories == [
        ("fiction", "Fiction", 0),
        ("fiction/romance", "Fiction > Romance", 1),
        ("fiction/romance/historical-romance", "Fiction > Romance > Historical Romance", 2),
        ("fiction/science-fiction", "Fiction > science fiction", 1),
    ]
    paths = dict(Book.objects.values_list("isbn13", "category__path"))
    assert paths == {
        PRIDE: "fiction/romance/historical-romance",
        DUNE: "fiction/science-fiction",
        HOBBIT: "fiction",
    }


def test_imported_ratings_become_external_figures_and_the_shown_rating(tmp_path):
    run_import(write_csv(tmp_path, [hobbit_row(average_rating="4.236", ratings_count="10")]))

    book = Book.objects.get(isbn13=HOBBIT)
    assert (book.external_average_rating, book.external_ratings_count) == (Decimal("4.24"), 10)
    assert (book.average_rating, book.ratings_count, book.review_count) == (Decimal("4.24"), 10, 0)


def test_reviews_count_on_top_of_updated_imported_ratings(tmp_path):
    book = BookFactory(isbn13=HOBBIT, title="The Hobbit")
    ReviewFactory(book=book, user=UserFactory(), rating=5)
    ReviewFactory(book=book, user=UserFactory(), rating=2)

    run_import(write_csv(tmp_path, [minimal_row(HOBBIT, "The Hobbit", average_rating="4.00", ratings_count="8")]))

    book.refresh_from_db()
    # (4.00 * 8 + 5 + 2) / (8 + 2) = 3.90
    assert (book.average_rating, book.ratings_count, book.review_count) == (Decimal("3.90"), 10, 2)
    assert (book.external_average_rating, book.external_ratings_count) == (Decimal("4.00"), 8)


def test_hostile_text_is_stored_verbatim_and_a_huge_cell_is_refused_by_length(tmp_path):
    rows = [
        minimal_row(PRIDE, "<script>alert(1)</script>", publisher="=cmd()", description="@SUM(A1:A9)"),
        minimal_row(DUNE, "Dune", description="x" * (10 * 1024 * 1024)),
    ]
    path = write_csv(tmp_path, rows)

    stdout, stderr, _ = run_failing_import(path)

    assert stderr == "line 3: description: 10,485,760 characters; the limit is 20,000\n"
    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 1 rejected"
    book = Book.objects.get(isbn13=PRIDE)
    assert (book.title, book.publisher, book.description) == ("<script>alert(1)</script>", "=cmd()", "@SUM(A1:A9)")


def test_an_enormous_number_is_refused_without_parsing_it(tmp_path):
    line = {"isbn13": PRIDE, "title": "Pride", "authors": "Jane Austen", "price": "9" * 5000}
    path = write_text(tmp_path, "books.jsonl", json.dumps(line) + "\n")

    _, stderr, _ = run_failing_import(path)

    assert stderr == f"line 1: price: '{'9' * 40}'… (5,000 characters) is not a number\n"
    assert not Book.objects.exists()


def test_created_and_updated_books_are_announced_after_commit(tmp_path, django_capture_on_commit_callbacks):
    announced: list[list[int]] = []

    def receiver(sender: object, book_ids: list[int], **kwargs: object) -> None:
        announced.append(book_ids)

    books_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run_import(write_csv(tmp_path, [hobbit_row(), minimal_row(PRIDE, "Pride")]))
        with django_capture_on_commit_callbacks(execute=True):
            run_import(write_csv(tmp_path, [hobbit_row(), minimal_row(PRIDE, "Pride")]))
    finally:
        books_changed.disconnect(receiver)

    assert announced == [sorted(Book.objects.values_list("pk", flat=True))]


def test_unknown_columns_are_ignored_with_a_warning(tmp_path):
    path = write_text(tmp_path, "books.csv", f"ISBN13,Title,Authors,Price,Shelf\n{PRIDE},Pride,Jane Austen,8.49,B4\n")

    stdout, stderr = run_import(path)

    assert stderr == "warning: ignored unknown column(s): shelf\n"
    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 0 rejected"


def test_the_format_option_overrides_the_extension(tmp_path):
    line = json.dumps({"isbn13": PRIDE, "title": "Pride", "authors": "Jane Austen", "price": "8.49"})
    path = write_text(tmp_path, "export.txt", line + "\n")

    stdout, _ = run_import(path, "--format", "jsonl")

    assert summary(stdout) == "1 created, 0 updated, 0 unchanged, 0 rejected"


def test_a_file_with_an_unknown_extension_is_refused(tmp_path):
    path = write_text(tmp_path, "books.txt", "isbn13,title,authors,price\n")

    _, _, error = run_failing_import(path)

    assert str(error) == (
        f"{path}: cannot tell the format from the extension; name it .csv, .jsonl or .ndjson, or pass --format."
    )


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("books.csv", "", "the file is empty."),
        ("books.jsonl", "", "the file is empty."),
        ("books.csv", "isbn13,title,authors,price\n\n", "the file has no rows to import."),
        ("books.jsonl", "\n\n", "the file has no rows to import."),
    ],
)
def test_an_empty_file_is_refused(tmp_path, name, content, message):
    path = write_text(tmp_path, name, content)

    _, _, error = run_failing_import(path)

    assert str(error) == f"{path}: {message}"
    assert not Book.objects.exists()


def test_a_missing_file_is_refused(tmp_path):
    _, _, error = run_failing_import(tmp_path / "nowhere.csv")

    assert str(error) == f"{tmp_path / 'nowhere.csv'}: no such file."


def test_a_file_that_is_not_utf8_is_refused_before_any_row_loads(tmp_path):
    path = tmp_path / "books.csv"
    text = f"isbn13,title,authors,price\n{PRIDE},Pride,Jane Austen,8.49\n{DUNE},Caf\xe9,A,1\n"
    path.write_bytes(text.encode("latin-1"))

    _, _, error = run_failing_import(path)

    assert str(error) == f"{path}: line 3 is not UTF-8 text (byte 0xe9); save the file as UTF-8 and try again."
    assert not Book.objects.exists()


def test_a_header_without_a_required_column_is_refused(tmp_path):
    path = write_text(tmp_path, "books.csv", f"isbn13,title,authors\n{PRIDE},Pride,Jane Austen\n")

    _, _, error = run_failing_import(path)

    assert str(error) == (
        f"{path}: the header has no price column(s); the required columns are isbn13, title, authors, price."
    )
    assert not Book.objects.exists()
