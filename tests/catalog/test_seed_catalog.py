"""``manage.py seed_catalog`` and the set-based rating refresh it relies on."""

from __future__ import annotations

import io
import random
import re
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from catalog import services
from catalog.isbn import is_valid_isbn13
from catalog.models import Author, Book, BookAuthor, Category, Inventory, Review, Tag
from catalog.seeding import isbn_for
from catalog.signals import books_changed
from tests.factories import BookFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """UserFactory hashes a password for every reviewer; PBKDF2 would make that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


BOOKS = 200


def seed(*args: str) -> str:
    stdout = io.StringIO()
    call_command("seed_catalog", *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


@pytest.fixture
def seeded():
    seed("--books", str(BOOKS), "--seed", "7")


def catalog_fingerprint() -> list[tuple[object, ...]]:
    """What a reader of the shop would see of each book, keyed by ISBN (ids differ between runs)."""
    authors: dict[int, list[str]] = {}
    for book_id, name in BookAuthor.objects.order_by("book_id", "position").values_list("book_id", "author__name"):
        authors.setdefault(book_id, []).append(name)
    return [
        (*values[1:], tuple(authors[values[0]]))
        for values in Book.objects.order_by("isbn13").values_list(
            "pk",
            "isbn13",
            "title",
            "subtitle",
            "description",
            "price",
            "publication_date",
            "language",
            "page_count",
            "publisher",
            "category__path",
            "popularity",
            "external_average_rating",
            "external_ratings_count",
            "average_rating",
            "ratings_count",
            "review_count",
            "inventory__stock_on_hand",
        )
    ]


def empty_the_catalog() -> None:
    Review.objects.all().delete()
    Book.objects.all().delete()  # cascades to book authors, tags and inventory
    Author.objects.all().delete()
    Tag.objects.all().delete()
    for category in Category.objects.order_by("-depth"):
        category.delete()
    get_user_model().objects.all().delete()


def test_it_creates_the_requested_number_of_books_with_valid_unique_isbns(seeded):
    isbns = list(Book.objects.values_list("isbn13", flat=True))

    assert len(isbns) == BOOKS
    assert len(set(isbns)) == BOOKS
    assert all(is_valid_isbn13(isbn) for isbn in isbns)


def test_it_reports_what_it_created():
    stdout = seed("--books", "50", "--seed", "3")

    assert "Seeding 50 books with seed 3…\n  books 50/50 (" in stdout
    assert f"Seeded 50 books, {Author.objects.count()} authors, {Category.objects.count()} categories, " in stdout


def test_books_sit_in_leaf_categories_two_or_three_levels_deep(seeded):
    assert Category.objects.filter(depth=0).count() == 8
    assert 60 <= Category.objects.count() <= 100
    assert set(Category.objects.values_list("depth", flat=True)) == {0, 1, 2}
    used = Category.objects.filter(books__isnull=False).distinct()
    assert set(used.values_list("depth", flat=True)) <= {1, 2}
    assert not used.filter(children__isnull=False).exists()
    for category in Category.objects.select_related("parent").filter(depth__gt=0):
        assert category.path == f"{category.parent.path}/{category.slug}"
        assert category.name_path == f"{category.parent.name_path} > {category.name}"


def test_authors_have_several_books_each_in_credit_order(seeded):
    books_per_author = list(
        Author.objects.annotate(book_total=Count("author_books")).values_list("book_total", flat=True)
    )

    assert min(books_per_author) >= 1
    assert sum(books_per_author) / len(books_per_author) > 2
    assert not Book.objects.filter(book_authors__isnull=True).exists()
    assert BookAuthor.objects.filter(position=0).count() == BOOKS


def test_stock_levels_include_out_of_stock_and_low_stock_books(seeded):
    assert Inventory.objects.count() == BOOKS
    assert Inventory.objects.filter(stock_on_hand=0).exists()
    assert Inventory.objects.filter(stock_on_hand__range=(1, 5)).exists()
    assert Inventory.objects.filter(stock_on_hand__gt=5).count() > BOOKS / 2


def test_prices_end_in_99_or_49_within_the_range(seeded):
    prices = list(Book.objects.values_list("price", flat=True))

    assert all(Decimal("7.49") <= price <= Decimal("49.99") for price in prices)
    assert {str(price)[-3:] for price in prices} == {".99", ".49"}
    assert set(Book.objects.values_list("currency", flat=True)) == {"USD"}


def test_reviews_are_one_per_reviewer_per_book_by_accounts_that_cannot_log_in(seeded):
    pairs = list(Review.objects.values_list("book_id", "user_id"))

    assert pairs
    assert len(pairs) == len(set(pairs))
    reviewers = get_user_model().objects.filter(reviews__isnull=False).distinct()
    assert not any(user.has_usable_password() for user in reviewers)


def test_rating_figures_agree_with_a_recomputation_from_the_reviews(seeded):
    before = list(Book.objects.order_by("pk").values_list("pk", "average_rating", "ratings_count", "review_count"))

    for book_id in Book.objects.values_list("pk", flat=True):
        services.book_refresh_rating(book_id=book_id)  # the per-book path reviews take

    assert list(Book.objects.order_by("pk").values_list("pk", "average_rating", "ratings_count", "review_count")) == (
        before
    )
    review_counts = dict(Review.objects.values("book_id").annotate(count=Count("id")).values_list("book_id", "count"))
    assert all(review_count == review_counts.get(pk, 0) for pk, _, _, review_count in before)
    assert any(review_count > 1 for *_, review_count in before)


def test_the_same_seed_gives_the_same_catalog():
    seed("--books", "120", "--seed", "11")
    first = catalog_fingerprint()
    empty_the_catalog()

    seed("--books", "120", "--seed", "11")

    assert catalog_fingerprint() == first


def test_another_seed_gives_another_catalog():
    seed("--books", "50", "--seed", "1")
    first = catalog_fingerprint()
    empty_the_catalog()

    seed("--books", "50", "--seed", "2")

    assert {row[0] for row in catalog_fingerprint()}.isdisjoint({row[0] for row in first})


def test_if_empty_leaves_a_catalog_that_has_books_alone():
    BookFactory()

    stdout = seed("--books", "50", "--if-empty")

    assert stdout == "The catalog already has 1 book; not seeding (--if-empty).\n"
    assert Book.objects.count() == 1


def test_if_empty_seeds_an_empty_catalog():
    seed("--books", "30", "--if-empty")

    assert Book.objects.count() == 30


def test_a_catalog_with_books_is_refused_without_append():
    book = BookFactory()

    with pytest.raises(CommandError) as raised:
        seed("--books", "50")

    assert str(raised.value) == (
        "The catalog already has 1 book. Use --if-empty to skip seeding a catalog that has books, "
        "or --append to add more."
    )
    assert list(Book.objects.all()) == [book]
    assert not Review.objects.exists()


def test_append_adds_books_with_another_seed():
    seed("--books", "40", "--seed", "1")

    stdout = seed("--books", "30", "--seed", "2", "--append")

    assert Book.objects.count() == 70
    assert "ISBNs redrawn because the catalog already held them: 0." in stdout


def test_append_redraws_every_isbn_the_catalog_already_holds_and_says_how_many():
    seed("--books", "40", "--seed", "1")
    first_isbns = set(Book.objects.values_list("isbn13", flat=True))

    stdout = seed("--books", "10", "--seed", "1", "--append")

    isbns = list(Book.objects.values_list("isbn13", flat=True))
    assert len(isbns) == len(set(isbns)) == 50
    assert all(is_valid_isbn13(isbn) for isbn in isbns)
    assert first_isbns < set(isbns)
    assert "ISBNs redrawn because the catalog already held them: 10." in stdout


def seed_isbn(seed_number: int, index: int) -> str:
    """The ``index``-th ISBN a seed draws (its sequence starts at the seed's first random draw)."""
    return isbn_for(random.Random(seed_number).randrange(1_000_000_000), index)


def test_a_redrawn_isbn_continues_the_seeds_sequence_and_changes_nothing_else():
    BookFactory(isbn13="9780306406157")  # an imported book no seed draws
    seed("--books", "20", "--seed", "5", "--append")
    expected = catalog_fingerprint()
    empty_the_catalog()
    # A real import that holds the seed's 4th ISBN and the first one past its last book.
    BookFactory(isbn13=seed_isbn(5, 3))
    BookFactory(isbn13=seed_isbn(5, 20))

    stdout = seed("--books", "20", "--seed", "5", "--append")

    assert "ISBNs redrawn because the catalog already held them: 1." in stdout
    seeded = Book.objects.exclude(isbn13__in=[seed_isbn(5, 3), seed_isbn(5, 20)])
    assert sorted(seeded.values_list("isbn13", flat=True)) == sorted(
        [*(seed_isbn(5, index) for index in range(20) if index != 3), seed_isbn(5, 21)]
    )
    # Only the ISBN moved: every book, the redrawn one included, is the one the seed always makes.
    kept = {seed_isbn(5, index) for index in range(20) if index != 3}
    after = catalog_fingerprint()
    assert [row for row in after if row[0] in kept] == [row for row in expected if row[0] in kept]
    assert [row[1:] for row in after if row[0] == seed_isbn(5, 21)] == [
        row[1:] for row in expected if row[0] == seed_isbn(5, 3)
    ]


def test_collisions_are_looked_up_in_batches_not_per_book():
    seed("--books", "300", "--seed", "1")

    with CaptureQueriesContext(connection) as queries:
        seed("--books", "300", "--seed", "1", "--append")

    isbn_lookups = [query for query in queries.captured_queries if re.search(r'"isbn13" (IN \(|= ANY\()', query["sql"])]
    assert len(isbn_lookups) == 2  # the seed's ISBNs, then the replacements for the 300 taken
    assert Book.objects.count() == 600


@pytest.mark.parametrize("books", ["0", "-5", "1000001"])
def test_a_book_count_outside_1_to_a_million_is_refused(books):
    with pytest.raises(CommandError) as raised:
        seed("--books", books)

    assert str(raised.value) == f"--books must be between 1 and 1,000,000 (got {int(books):,})."
    assert not Book.objects.exists()


def test_a_book_count_that_is_not_a_number_is_refused():
    with pytest.raises(CommandError, match="argument --books: 'many' is not a whole number"):
        seed("--books", "many")


def test_seeding_announces_no_book_changes(django_capture_on_commit_callbacks):
    announced: list[object] = []

    def receiver(sender: object, **kwargs: object) -> None:
        announced.append(kwargs)

    books_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            seed("--books", "20")
    finally:
        books_changed.disconnect(receiver)

    assert announced == []
    # The only thing done on commit: retiring kept pages (new categories change the navigation).
    assert {callback.__module__ for callback in callbacks} == {"catalog.page_tags"}


def test_the_sql_rating_refresh_matches_the_per_book_refresh():
    reviewers = [UserFactory() for _ in range(4)]
    imported_only = BookFactory(external_average_rating=Decimal("3.70"), external_ratings_count=12)
    reviewed = BookFactory(external_average_rating=Decimal("4.10"), external_ratings_count=7)
    for reviewer, rating in zip(reviewers, (5, 2, 4), strict=False):
        ReviewFactory(book=reviewed, user=reviewer, rating=rating)
    reviews_only = BookFactory()
    ReviewFactory(book=reviews_only, user=reviewers[0], rating=1)
    ReviewFactory(book=reviews_only, user=reviewers[1], rating=2)
    exactly_half_way = BookFactory(external_average_rating=Decimal("4.50"), external_ratings_count=4)
    for reviewer, rating in zip(reviewers, (5, 5, 5, 4), strict=True):
        ReviewFactory(book=exactly_half_way, user=reviewer, rating=rating)
    nothing = BookFactory()
    books = [imported_only, reviewed, reviews_only, exactly_half_way, nothing]

    changed = services.books_refresh_ratings(book_ids=[book.pk for book in books])

    in_sql = list(Book.objects.order_by("pk").values_list("average_rating", "ratings_count", "review_count"))
    for book in books:
        services.book_refresh_rating(book_id=book.pk)
    per_book = list(Book.objects.order_by("pk").values_list("average_rating", "ratings_count", "review_count"))
    assert in_sql == per_book
    assert in_sql == [
        (Decimal("3.70"), 12, 0),
        (Decimal("3.97"), 10, 3),  # (4.10 * 7 + 5 + 2 + 4) / 10
        (Decimal("1.50"), 2, 2),
        (Decimal("4.63"), 8, 4),  # (4.50 * 4 + 19) / 8 = 4.625, rounded half up
        (Decimal("0.00"), 0, 0),
    ]
    assert changed == 4


def test_the_sql_rating_refresh_leaves_other_books_and_unchanged_books_alone():
    target = BookFactory()
    ReviewFactory(book=target, rating=5)
    other = BookFactory()
    ReviewFactory(book=other, rating=3)

    assert services.books_refresh_ratings(book_ids=[target.pk]) == 1
    assert services.books_refresh_ratings(book_ids=[target.pk]) == 0

    assert Book.objects.values_list("average_rating", "review_count").get(pk=target.pk) == (Decimal("5.00"), 1)
    assert Book.objects.values_list("average_rating", "review_count").get(pk=other.pk) == (Decimal("0.00"), 0)
