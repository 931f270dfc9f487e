"""Deep browse pages seek by key from cached page boundaries (``catalog.selectors.pages.book_page``),
and the bulk loaders leave their tables vacuumed and analyzed (``catalog.maintenance``).

The keyset answer is checked against the plain ``ORDER BY … LIMIT … OFFSET`` answer on a
catalog full of ties (three prices, five popularity values, duplicate titles) and books
without a publication date.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.paginator import EmptyPage
from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.functions import Lower
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Author, Book, Category
from catalog.selectors import pages
from catalog.selectors.categories import category_branch
from tests.factories import AuthorFactory, BookFactory, CategoryFactory

PAGE_SIZE = 4
BOOKS = 70
SORTS = list(pages.SORT_OPTIONS)

Listing = tuple[QuerySet[Book], str | None]


@pytest.fixture
def catalog(db) -> dict[str, Callable[[], Listing]]:
    """70 books with many ties in every sort key; the listings to page through, by name.

    Listings are built lazily (as views build them on each request), each with the count
    cache key its view passes: the author page has none.
    """
    fiction = CategoryFactory(name="Fiction", slug="fiction")
    fantasy = CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)
    crime = CategoryFactory(name="Crime", slug="crime", parent=fiction)
    poetry = CategoryFactory(name="Poetry", slug="poetry")
    prolific = AuthorFactory(name="Prolific Writer", slug="prolific-writer")
    for index in range(BOOKS):
        BookFactory(
            title=f"Title {index % 9}",
            category=(fiction, fantasy, fantasy, crime, poetry)[index % 5],
            price=(Decimal("5.00"), Decimal("9.99"), Decimal("12.50"))[index % 3],
            popularity=(index * 7) % 5,
            average_rating=(Decimal("4.50"), Decimal("3.00"), Decimal("0.00"))[index % 3],
            ratings_count=(index % 2) * 10,
            publication_date=None if index % 4 == 0 else date(2000 + index % 6, 1, 1),
            authors=[prolific] if index % 2 == 0 else [],
        )

    def subtree(path: str) -> Listing:
        branch = category_branch(path)
        assert branch is not None
        return pages.category_books(branch), branch.book_count_cache_key

    return {
        "all": lambda: (pages.all_books(), pages.ALL_BOOKS_COUNT_KEY),
        "category subtree": lambda: subtree("fiction"),
        "leaf category": lambda: subtree("fiction/fantasy"),
        "author": lambda: (pages.author_books(Author.objects.get(slug="prolific-writer")), None),
    }


def reference_ids(books: QuerySet[Book], sort: str, number: int) -> list[int]:
    """Page ``number`` the plain way: ORDER BY the sort, LIMIT, OFFSET."""
    offset = (number - 1) * PAGE_SIZE
    ordered = books.order_by(*pages.SORT_OPTIONS[sort].order_by).values_list("id", flat=True)
    return list(ordered[offset : offset + PAGE_SIZE])


def all_ids(books: QuerySet[Book], sort: str) -> list[int]:
    return list(books.order_by(*pages.SORT_OPTIONS[sort].order_by).values_list("id", flat=True))


def page_of(listing: Listing, sort: str, number: int) -> pages.BookPage:
    books, count_cache_key = listing
    return pages.book_page(
        books,
        sort=pages.SORT_OPTIONS[sort],
        number=number,
        page_size=PAGE_SIZE,
        count_cache_key=count_cache_key,
    )


def ids_of(page: pages.BookPage) -> list[int]:
    return [book.pk for book in page.books]


def page_with_sql(listing: Listing, sort: str, number: int) -> tuple[list[int], list[str]]:
    """The ids of a page and the SQL it ran."""
    with CaptureQueriesContext(connection) as queries:
        ids = ids_of(page_of(listing, sort, number))
    return ids, [query["sql"] for query in queries.captured_queries]


def boundary_queries(sql: list[str]) -> list[str]:
    return [statement for statement in sql if "ROW_NUMBER()" in statement]


# --- The keyset answer is the OFFSET answer ---------------------------------------------


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("scope", ["all", "category subtree", "leaf category", "author"])
def test_every_page_equals_the_offset_answer_and_deep_pages_run_no_offset(catalog, scope, sort):
    books, _ = catalog[scope]()
    num_pages = -(-books.count() // PAGE_SIZE)
    assert num_pages >= 4  # page 1, 2, at least one deep page in the middle, the last

    for number in range(1, num_pages + 1):
        ids, sql = page_with_sql(catalog[scope](), sort, number)

        assert ids == reference_ids(books, sort, number), f"page {number}"
        # Page 1 needs no OFFSET either way; page 2 keeps it; deeper pages seek by key.
        has_offset = any("OFFSET" in statement for statement in sql)
        assert has_offset == (1 < number < pages.KEYSET_FROM_PAGE), f"page {number}"


@pytest.mark.parametrize("scope", ["all", "category subtree", "leaf category", "author"])
def test_a_page_past_the_last_is_empty_page(catalog, scope):
    books, _ = catalog[scope]()
    last = -(-books.count() // PAGE_SIZE)
    page_of(catalog[scope](), "price", last)  # builds the boundaries

    with pytest.raises(EmptyPage):
        page_of(catalog[scope](), "price", last + 1)


def test_the_deep_page_past_the_last_is_a_404_and_the_last_one_is_not(client, settings, catalog):
    settings.CATALOG_PAGE_SIZE = PAGE_SIZE
    last = -(-BOOKS // PAGE_SIZE)

    response = client.get("/books/", {"page": last, "sort": "title"})

    assert response.status_code == 200
    assert [book.pk for book in response.context["listing"].books] == reference_ids(Book.objects.all(), "title", last)
    assert client.get("/books/", {"page": last + 1, "sort": "title"}).status_code == 404


def test_shallow_pages_keep_offset_and_build_no_boundaries(catalog):
    for number in range(1, pages.KEYSET_FROM_PAGE):
        ids, sql = page_with_sql(catalog["all"](), "bestselling", number)

        assert ids == reference_ids(Book.objects.all(), "bestselling", number)
        assert boundary_queries(sql) == []


def test_every_sort_is_paged_by_its_index_columns_ending_in_id():
    assert {key: pages.sort_columns(sort) for key, sort in pages.SORT_OPTIONS.items()} == {
        "bestselling": (("popularity", True), ("id", False)),
        "price": (("price", False), ("id", False)),
        "price-desc": (("price", True), ("id", True)),
        "rating": (("average_rating", True), ("ratings_count", True), ("id", False)),
        "newest": (("publication_sort_date", True), ("id", False)),
        "title": (("title", False), ("id", False)),
    }


def test_a_sort_on_a_nullable_column_is_refused_rather_than_paged_wrong():
    # NULL would compare as unknown and empty every page after it.
    sort = pages.SortOption("published", "Published", (F("publication_date").desc(), "id"))

    with pytest.raises(TypeError, match=r"nullable columns \['publication_date'\]"):
        pages.sort_columns(sort)


def test_a_sort_on_an_expression_is_refused():
    sort = pages.SortOption("title-any-case", "Title", (Lower("title").asc(), "id"))

    with pytest.raises(TypeError, match="not a column"):
        pages.sort_columns(sort)


# --- Queries ------------------------------------------------------------------------------


def test_a_deep_page_query_count_is_pinned_cold_and_warm(catalog, django_assert_num_queries):
    listing = catalog["category subtree"]()
    # Cold: count, boundaries, page ids, books, authors.
    with django_assert_num_queries(5):
        page_of(listing, "rating", 9)
    # Warm (count and boundaries cached): page ids, books, authors; any deep page.
    for number in (3, 7, 14):
        with django_assert_num_queries(3):
            page_of(listing, "rating", number)


def test_boundaries_are_built_once_per_listing_and_sort(catalog):
    _, first = page_with_sql(catalog["all"](), "newest", 10)
    _, again = page_with_sql(catalog["all"](), "newest", 17)
    _, other_sort = page_with_sql(catalog["all"](), "title", 10)

    assert len(boundary_queries(first)) == 1
    assert boundary_queries(again) == []
    assert len(boundary_queries(other_sort)) == 1


def test_while_another_request_builds_the_boundaries_a_deep_page_uses_offset(catalog):
    books, _ = catalog["all"]()
    page_of(catalog["all"](), "price", 1)  # counts, so the lock key below is the real one
    page = pages.PageInfo.build(number=5, page_size=PAGE_SIZE, total=BOOKS)
    lock = pages._boundaries_key(scope=pages.ALL_BOOKS_COUNT_KEY, sort=pages.SORT_OPTIONS["price"], page=page, chunk=-1)
    cache.set(lock, True)

    ids, sql = page_with_sql(catalog["all"](), "price", 5)

    assert ids == reference_ids(books, "price", 5)
    assert boundary_queries(sql) == []
    assert any("OFFSET" in statement for statement in sql)


def test_the_build_lock_is_released_after_a_build(catalog):
    page_of(catalog["all"](), "price", 5)

    _, sql = page_with_sql(catalog["all"](), "price-desc", 5)

    assert len(boundary_queries(sql)) == 1
    assert not cache.keys("catalog:v2:page-keys:*:-1")


# --- Staleness ----------------------------------------------------------------------------


def a_book_that_sorts_first(category: Category, author: Author | None = None, *, sort: str = "price") -> Book:
    return BookFactory(
        title="AAA First",
        category=category,
        price=Decimal("99.00") if sort == "price-desc" else Decimal("0.50"),
        popularity=1000,
        average_rating=Decimal("5.00"),
        ratings_count=999,
        publication_date=date(2030, 1, 1),
        authors=[author] if author else [],
    )


@pytest.mark.parametrize("sort", SORTS)
def test_an_added_book_leaves_deep_pages_as_they_were_until_the_count_refreshes(catalog, sort):
    before = ids_of(page_of(catalog["all"](), sort, 8))
    a_book_that_sorts_first(Category.objects.get(path="fiction"), sort=sort)

    # The count is cached, so the boundary table is too: page 8 is the page it was, full.
    assert ids_of(page_of(catalog["all"](), sort, 8)) == before
    # OFFSET would now shift every page by one book.
    assert reference_ids(Book.objects.all(), sort, 8) != before

    cache.delete(pages.ALL_BOOKS_COUNT_KEY)  # the count cache expires

    assert ids_of(page_of(catalog["all"](), sort, 8)) == reference_ids(Book.objects.all(), sort, 8)


def test_on_an_author_page_the_live_count_retires_the_boundaries_at_once(catalog):
    page_of(catalog["author"](), "bestselling", 5)
    author = Author.objects.get(slug="prolific-writer")
    a_book_that_sorts_first(Category.objects.get(path="poetry"), author)
    books, _ = catalog["author"]()

    assert ids_of(page_of(catalog["author"](), "bestselling", 5)) == reference_ids(books, "bestselling", 5)


def test_removed_boundary_books_leave_full_pages_of_consecutive_books(catalog):
    listing = catalog["all"]()
    page_of(listing, "bestselling", 6)  # builds the boundaries
    order = all_ids(Book.objects.all(), "bestselling")
    # The last book of pages 5 to 9: the rows the boundaries of pages 6 to 10 were taken from.
    Book.objects.filter(pk__in=[order[number * PAGE_SIZE - 1] for number in range(5, 10)]).delete()
    now = all_ids(Book.objects.all(), "bestselling")

    for number in range(6, 11):
        ids = ids_of(page_of(catalog["all"](), "bestselling", number))
        start = now.index(ids[0])

        assert len(ids) == PAGE_SIZE
        assert ids == now[start : start + PAGE_SIZE]  # real books, in order, none skipped
        assert abs(start - (number - 1) * PAGE_SIZE) <= 5  # off by at most the books removed


def test_a_page_the_stale_boundaries_would_leave_short_is_answered_by_offset(catalog):
    # An author page counts live, so two books added and two removed keep the same total
    # and the same (now stale) boundaries: the last page's boundary is past the end.
    last = -(-Book.objects.filter(authors__slug="prolific-writer").count() // PAGE_SIZE)
    page_of(catalog["author"](), "price", last)
    author = Author.objects.get(slug="prolific-writer")
    order = all_ids(catalog["author"]()[0], "price")
    Book.objects.filter(pk__in=order[-3:]).delete()
    for _ in range(3):
        a_book_that_sorts_first(Category.objects.get(path="poetry"), author)
    books, _ = catalog["author"]()

    ids = ids_of(page_of(catalog["author"](), "price", last))

    assert ids == reference_ids(books, "price", last)
    assert ids  # not the empty page the stale boundary alone would give


# --- VACUUM ANALYZE after bulk writes -----------------------------------------------------


def table_maintenance(table: str) -> tuple[object, object, int, int]:
    """When ``table`` was last vacuumed and analyzed by hand, its pages and all-visible pages."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.last_vacuum, s.last_analyze, c.relpages, c.relallvisible "
            "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.relname = %s",
            [table],
        )
        row = cursor.fetchone()
    assert row is not None
    return row


@pytest.mark.django_db(transaction=True)
def test_seed_catalog_ends_with_vacuum_analyze_of_what_it_wrote():
    started = timezone.now()
    stdout = io.StringIO()

    call_command("seed_catalog", "--books", "40", "--seed", "5", stdout=stdout)

    for table in ("catalog_book", "catalog_bookauthor", "catalog_inventory", "catalog_review", "auth_user"):
        last_vacuum, last_analyze, pages, all_visible = table_maintenance(table)
        assert last_vacuum is not None, table
        assert last_vacuum >= started, table
        assert last_analyze is not None, table
        assert last_analyze >= started, table
        assert pages > 0, table
        assert all_visible == pages, table
    assert "VACUUM ANALYZE of 9 tables (catalog_book, " in stdout.getvalue()
    assert ": every page all-visible." in stdout.getvalue()


def write_books_csv(tmp_path: Path, count: int) -> Path:
    from tests.factories import next_isbn13

    lines = ["isbn13,title,authors,price,category"]
    lines += [f"{next_isbn13()},Imported {index},Ann Importer,{index + 1}.99,Imports" for index in range(count)]
    path = tmp_path / "books.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.django_db(transaction=True)
def test_import_books_ends_with_vacuum_analyze_when_it_wrote_books(tmp_path):
    path = write_books_csv(tmp_path, 30)
    started = timezone.now()
    stdout = io.StringIO()

    call_command("import_books", str(path), stdout=stdout, stderr=io.StringIO())

    last_vacuum, last_analyze, pages, all_visible = table_maintenance("catalog_book")
    assert last_vacuum is not None
    assert last_vacuum >= started
    assert last_analyze is not None
    assert last_analyze >= started
    assert pages > 0
    assert all_visible == pages
    assert "VACUUM ANALYZE of 5 tables (catalog_book, catalog_bookauthor, catalog_author, " in stdout.getvalue()


@pytest.mark.django_db(transaction=True)
def test_an_import_that_changes_nothing_does_not_vacuum(tmp_path):
    path = write_books_csv(tmp_path, 3)
    call_command("import_books", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    vacuumed_before = table_maintenance("catalog_book")[0]
    stdout = io.StringIO()

    call_command("import_books", str(path), stdout=stdout, stderr=io.StringIO())

    assert table_maintenance("catalog_book")[0] == vacuumed_before
    assert "VACUUM" not in stdout.getvalue()
    assert "0 created, 0 updated, 3 unchanged" in stdout.getvalue()


@pytest.mark.django_db
def test_inside_a_transaction_the_vacuum_is_skipped_and_says_why():
    stdout = io.StringIO()

    call_command("seed_catalog", "--books", "5", stdout=stdout)

    assert "VACUUM ANALYZE skipped: inside a transaction." in stdout.getvalue()
    assert Book.objects.count() == 5
