"""Reads that build the customer-facing catalog pages (the categories around a page: ``categories``).

Plain functions returning querysets, model instances and small dataclasses. Each page
runs a fixed number of SQL queries whatever the size of the catalog:

* book cards are always fetched through ``Book.objects.for_listing()``, which owns the
  ``select_related``/``prefetch_related`` a card needs;
* browse pages use a *deferred join*: one query selects only the ids of the requested
  page, ordered exactly like one of the ``Book.Meta.indexes`` (trailing ``id``
  included), so the database walks an index instead of sorting the catalog; a second
  query fetches just those rows for the cards. Deep pages find their first row by key
  (a cached table of page boundaries) rather than by ``OFFSET``, so page 1,500 costs
  what page 1 costs;
* expensive, slowly-changing figures (counts, the home page layout, related books) are
  cached for a few minutes; the categories around a page come from the category index
  (``catalog.selectors.categories``). Caches hold ids and names only, never
  prices or stock, so a cached page part is never wrong about what a book costs (page
  boundaries hold sort values, prices among them, but only as positions to seek from;
  nothing shown on a page comes from them).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.paginator import EmptyPage
from django.db import connection
from django.db.models import Count, F, Field, OrderBy, Q, QuerySet, RowRange, Window
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.db.models.functions import RowNumber
from django.db.models.lookups import Lookup
from django.urls import reverse
from django.utils import timezone

from catalog.models import Author, Book, BookAuthor, Review
from catalog.selectors.caching import CACHE_PREFIX, CACHE_SECONDS, cached
from catalog.selectors.categories import CategoryBranch, CategoryLink, root_categories
from catalog.titles import title_key, title_parts

HOME_SHELF_SIZE = 6
RELATED_BOOKS_LIMIT = 6
# The book page's short lists of links: the rest of its series, and more by its authors.
SERIES_LINKS_LIMIT = 12
AUTHOR_LINKS_LIMIT = 6
# How many of the authors' books naming the series are read to find its volumes.
SERIES_CANDIDATES_LIMIT = 100
# A book needs this many ratings to appear in "Top rated", so one enthusiastic 5★
# review cannot put a book above one rated 4.8 by thousands of readers.
TOP_RATED_MIN_RATINGS = 100


# --- Sort orders --------------------------------------------------------------------


@dataclass(frozen=True)
class SortOption:
    """One way to order a book listing.

    ``order_by`` follows the column order of a ``Book.Meta.indexes`` entry exactly
    (within a category the ``category`` column comes first and is fixed by the
    filter), so both ``ORDER BY … LIMIT/OFFSET`` and the category variant are index scans.
    """

    key: str
    label: str
    order_by: tuple[str | OrderBy, ...]


SORT_OPTIONS: dict[str, SortOption] = {
    option.key: option
    for option in (
        SortOption("bestselling", "Bestselling", (F("popularity").desc(), "id")),
        SortOption("price", "Price: low to high", ("price", "id")),
        # The (price, id) index read backwards.
        SortOption("price-desc", "Price: high to low", (F("price").desc(), F("id").desc())),
        SortOption("rating", "Top rated", (F("average_rating").desc(), F("ratings_count").desc(), "id")),
        SortOption("newest", "Newest", (F("publication_sort_date").desc(), "id")),
        SortOption("title", "Title A to Z", ("title", "id")),
    )
}
DEFAULT_SORT = "bestselling"


def sort_option(key: str | None) -> SortOption:
    """The sort named ``key``, or the default one for a missing or unknown key (never an error)."""
    return SORT_OPTIONS.get(key or "", SORT_OPTIONS[DEFAULT_SORT])


# --- Pagination ---------------------------------------------------------------------


@dataclass(frozen=True)
class PageInfo:
    """Where a page sits in a paginated list; built only for pages that exist."""

    number: int
    page_size: int
    total: int
    num_pages: int

    @classmethod
    def build(cls, *, number: int, page_size: int, total: int, max_page: int | None = None) -> PageInfo:
        """Check ``number`` against the list size; raises ``EmptyPage`` past the end.

        Page 1 of an empty list exists (it shows "no books yet"). ``max_page`` caps how
        deep anyone may page, because crawlers follow links to page 40,000 but people do not.
        """
        num_pages = max(1, math.ceil(total / page_size))
        if max_page is not None:
            num_pages = min(num_pages, max_page)
        if not 1 <= number <= num_pages:
            raise EmptyPage(f"Page {number} does not exist.")
        return cls(number=number, page_size=page_size, total=total, num_pages=num_pages)

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.page_size

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def first_index(self) -> int:
        """1-based index of the first item on this page (0 for an empty list)."""
        return min(self.offset + 1, self.total)

    @property
    def last_index(self) -> int:
        return min(self.offset + self.page_size, self.total)

    def window(self, *, around: int = 2) -> list[int | None]:
        """Page numbers to link to: the first, the last and a few around the current one.

        ``None`` marks a gap (rendered as an ellipsis): ``[1, None, 48, 49, 50, 51, 52, None, 500]``.
        """
        wanted = {1, self.num_pages, *range(self.number - around, self.number + around + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= self.num_pages)
        window: list[int | None] = []
        for index, number in enumerate(numbers):
            if index and number - numbers[index - 1] > 1:
                window.append(None)
            window.append(number)
        return window


@dataclass(frozen=True)
class BookPage:
    """One page of a book listing: the cards and where the page sits."""

    books: list[Book]
    page: PageInfo
    sort: SortOption

    def query(self, number: int) -> str:
        """The query string of page ``number`` in this sort: ``?sort=price&page=3``, or ``""``.

        The default sort and page 1 are left out, so each page has exactly one URL; the
        pagination links and the canonical link both come from here.
        """
        params: dict[str, str | int] = {}
        if self.sort.key != DEFAULT_SORT:
            params["sort"] = self.sort.key
        if number > 1:
            params["page"] = number
        return f"?{urlencode(params)}" if params else ""


def books_in_order(ids: Sequence[int]) -> list[Book]:
    """Card-ready books for ``ids``, in the order given (the second step of the deferred join).

    Ids that no longer exist are skipped, so a cached id list can outlive a deleted book.
    """
    if not ids:
        return []
    by_id = {book.pk: book for book in Book.objects.select_related("inventory").filter(pk__in=ids).order_by()}
    # The credits as plain (book, name) rows: for a page of cards this costs a fraction of
    # ``for_listing``'s prefetch, which builds a BookAuthor and an Author per credit.
    credits: dict[int, list[tuple[int, str]]] = {book_id: [] for book_id in by_id}
    rows = BookAuthor.objects.filter(book_id__in=by_id).order_by("book_id", "position", "id")
    for book_id, author_id, name in rows.values_list("book_id", "author_id", "author__name"):
        credits[book_id].append((author_id, name))
    for book_id, book in by_id.items():
        book.set_author_credits(credits[book_id])
    return [by_id[book_id] for book_id in ids if book_id in by_id]


def book_page(
    books: QuerySet[Book], *, sort: SortOption, number: int, page_size: int, count_cache_key: str | None = None
) -> BookPage:
    """Page ``number`` of ``books`` in ``sort`` order, fetched with a deferred join.

    Step one selects only the ids of the page; step two (``books_in_order``) fetches those
    rows for the cards. Shallow pages (before ``KEYSET_FROM_PAGE``) use ``LIMIT … OFFSET``,
    which is as cheap as anything for a few hundred index entries; deeper pages seek by key
    from the page's boundary (``page_boundary``), so page 1,500 costs what page 2 costs
    instead of walking 36,000 index entries first. The total is cached under
    ``count_cache_key`` because counting a large category on every deep page would cost
    more than the page itself. Raises ``EmptyPage`` for a page past the end or past
    ``settings.CATALOG_MAX_PAGE``.
    """
    if number > settings.CATALOG_MAX_PAGE or number < 1:
        raise EmptyPage(f"Page {number} does not exist.")
    total = cached(count_cache_key, books.count) if count_cache_key else books.count()
    page = PageInfo.build(number=number, page_size=page_size, total=total, max_page=settings.CATALOG_MAX_PAGE)
    ordered = books.order_by(*sort.order_by).values_list("id", flat=True)
    ids: list[int] | None = None
    if number >= KEYSET_FROM_PAGE:
        scope = count_cache_key or _queryset_digest(books)
        boundary = page_boundary(books, sort=sort, page=page, scope=scope)
        if boundary is not None:
            ids = list(ordered.filter(_after_key(sort_columns(sort), boundary))[:page_size])
            # Fewer rows than the page should hold: books were removed since the boundaries
            # were taken (or the cached total is ahead). The OFFSET answer is the exact one.
            if len(ids) < page.last_index - page.offset:
                ids = None
    if ids is None:
        ids = list(ordered[page.offset : page.offset + page_size])
    return BookPage(books=books_in_order(ids), page=page, sort=sort)


# --- Deep pages: keyset seek from cached page boundaries --------------------------------
#
# A page number becomes a key through a table of page boundaries: for page N, the sort
# values of the last row of page N - 1. Page N is then "the next page_size rows after that
# key", which the database answers by seeking in the sort's index instead of walking past
# (N - 1) * page_size entries. The table is built by one index-only query per (listing,
# sort, page size) and cached in chunks, so a page reads a few kB from the cache.
#
# Staleness: the table is keyed by the listing's total (the cached count), so when the
# count cache notices books added or removed (within CACHE_SECONDS), the next deep page
# builds a new table. Until then, and for PAGE_BOUNDARIES_SECONDS after a sort value
# changes (a price, a rating), a deep page starts where that page started when the table
# was taken: it may be off by the few rows that moved, but it is always a full page of
# real books in the right order. A page that would come out short (books removed) is
# answered with OFFSET instead, so a page is never emptier than OFFSET would make it.

# Pages before this one use OFFSET: reading at most (KEYSET_FROM_PAGE - 2) * page_size
# index entries costs less than fetching a boundary from the cache (measured: see the
# deep pages brief report, 100,000 books).
KEYSET_FROM_PAGE = 3
# Boundaries per cache entry: a page reads one entry (~100 keys, a few kB) instead of the
# whole table (2,000 keys of titles would be ~100 kB per request).
PAGE_BOUNDARIES_PER_CHUNK = 100
PAGE_BOUNDARIES_SECONDS = CACHE_SECONDS
# How long a builder may hold the build lock (a build takes ~20 ms on 100,000 books).
PAGE_BOUNDARIES_BUILD_SECONDS = 30


def sort_columns(sort: SortOption) -> tuple[tuple[str, bool], ...]:
    """The sort's key as ``(field name, is_descending)`` pairs, in ``ORDER BY`` order (``id`` last)."""
    columns: list[tuple[str, bool]] = []
    for item in sort.order_by:
        if isinstance(item, str):
            columns.append((item.lstrip("-"), item.startswith("-")))
        elif isinstance(item, OrderBy) and isinstance(item.expression, F):
            name: str = item.expression.name  # type: ignore[attr-defined]  # set by F.__init__; not in the stubs
            columns.append((name, item.descending))
        else:  # a new sort must order by plain columns to be paged by key
            raise TypeError(f"sort {sort.key!r} orders by {item!r}, not a column")
    # A NULL boundary would compare as unknown and silently empty the page: sort keys
    # must be NOT NULL (publication dates are, through the generated publication_sort_date).
    nullable = [name for name, _ in columns if Book._meta.get_field(name).null]
    if nullable:
        raise TypeError(f"sort {sort.key!r} orders by nullable columns {nullable}; keyset pages need NOT NULL keys")
    return tuple(columns)


def _after_key(columns: Sequence[tuple[str, bool]], key: Sequence[object]) -> Q | Lookup:
    """Rows strictly after ``key`` in the order of ``columns``, as a condition the sort's index can seek.

    One direction throughout (price, id; price DESC, id DESC; title, id): a row-value
    comparison, ``(price, id) > (18.99, 4711)``, which Postgres uses as the index scan's
    start, so rows tied on the price cost nothing (85 distinct prices, ~1,200 books each).
    Mixed directions (popularity DESC, id) rule that out, so the comparison is spelled out,
    ``p < 17 OR (p = 17 AND id > 4711)``, and the leading column also gets a plain range,
    ``p <= 17``, which the index scan starts from; only rows tied with the boundary on that
    column (a few dozen for popularity, rating and date) are filtered after the start.
    """
    directions = {is_descending for _, is_descending in columns}
    if len(directions) == 1:
        row = Tuple(*(F(name) for name, _ in columns))
        return TupleLessThan(row, tuple(key)) if directions == {True} else TupleGreaterThan(row, tuple(key))

    def strictly_after(index: int) -> Q:
        name, is_descending = columns[index]
        beyond = Q(**{f"{name}__{'lt' if is_descending else 'gt'}": key[index]})
        if index == len(columns) - 1:
            return beyond
        return beyond | (Q(**{name: key[index]}) & strictly_after(index + 1))

    leading, is_descending = columns[0]
    return Q(**{f"{leading}__{'lte' if is_descending else 'gte'}": key[0]}) & strictly_after(0)


def _queryset_digest(books: QuerySet[Book]) -> str:
    """A cache scope for a listing without a count key (an author's books): its SQL and parameters."""
    sql, params = books.query.sql_with_params()
    return "sql:" + hashlib.sha256(repr((sql, params)).encode()).hexdigest()[:32]


def _boundaries_key(*, scope: str, sort: SortOption, page: PageInfo, chunk: int) -> str:
    """Where a chunk of boundaries lives: a new listing, key shape, page size or total is a new table."""
    # The sort's columns are in the digest so a release that changes a sort never seeks
    # with keys of the old shape.
    shape = ",".join(f"{'-' if is_descending else ''}{name}" for name, is_descending in sort_columns(sort))
    digest = hashlib.sha256(f"{scope}\n{shape}".encode()).hexdigest()[:32]
    return f"{CACHE_PREFIX}:page-keys:{digest}:{sort.key}:{page.page_size}:{page.total}:{chunk}"


def page_boundary(books: QuerySet[Book], *, sort: SortOption, page: PageInfo, scope: str) -> tuple[object, ...] | None:
    """The sort key of the last row before ``page`` (page 2 or later), or ``None`` if there is none.

    Read from the cached boundary table of (``scope``, ``sort``, page size, total); a
    missing table is built with one query and cached. ``None`` when the listing has
    shrunk so much that the page starts past its end (the caller then uses OFFSET).
    """
    index = page.number - 2
    chunk, position = divmod(index, PAGE_BOUNDARIES_PER_CHUNK)
    boundaries: list[tuple[object, ...]] | None = cache.get(
        _boundaries_key(scope=scope, sort=sort, page=page, chunk=chunk)
    )
    if boundaries is None:
        # One builder per table: concurrent requests (a crawler, a cold cache) answer with
        # OFFSET meanwhile rather than all running the same scan. With the cache down the
        # lock is never taken, so nothing is built and every page uses OFFSET, as before.
        lock = _boundaries_key(scope=scope, sort=sort, page=page, chunk=-1)
        if not cache.add(lock, True, PAGE_BOUNDARIES_BUILD_SECONDS):
            return None
        try:
            table = _page_boundaries(books, sort=sort, page_size=page.page_size, pages=page.num_pages)
            size = PAGE_BOUNDARIES_PER_CHUNK
            chunks = [table[start : start + size] for start in range(0, len(table), size)]
            cache.set_many(
                {
                    _boundaries_key(scope=scope, sort=sort, page=page, chunk=number): rows
                    for number, rows in enumerate(chunks)
                },
                PAGE_BOUNDARIES_SECONDS,
            )
        finally:
            cache.delete(lock)
        boundaries = chunks[chunk] if chunk < len(chunks) else []
    return boundaries[position] if position < len(boundaries) else None


def _page_boundaries(
    books: QuerySet[Book], *, sort: SortOption, page_size: int, pages: int
) -> list[tuple[object, ...]]:
    """The boundary of every page from 2 to ``pages``: the sort key of each page's previous row.

    One query: the first ``(pages - 1) * page_size`` rows in sort order, numbered by a
    window function, of which only every ``page_size``-th row leaves the database. Postgres
    reads them from the sort's index (index-only once the table is vacuumed) without
    sorting anything; SQLite (3.25+) runs the same SQL.
    """
    rows = (pages - 1) * page_size
    if rows <= 0:
        return []
    names = [name for name, _ in sort_columns(sort)]
    numbered = (
        books.order_by(*sort.order_by)
        # ROWS framing: numbering rows needs no comparison of each row with its peers
        # (the default RANGE frame does one per row), which halves the cost.
        .annotate(page_row=Window(RowNumber(), order_by=list(sort.order_by), frame=RowRange(start=None, end=0)))
        .values_list(*names, "page_row")[:rows]
    )
    sql, params = numbered.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM ({sql}) AS numbered WHERE numbered.page_row %% %s = 0 ORDER BY numbered.page_row",
            (*params, page_size),
        )
        found = cursor.fetchall()
    # A raw cursor skips the ORM's converters (SQLite returns decimals as floats and dates
    # as text): the fields make each value what a lookup on them expects.
    fields = [cast(Field, Book._meta.get_field(name)) for name in names]  # sort keys are concrete columns
    return [tuple(field.to_python(value) for field, value in zip(fields, row, strict=False)) for row in found]


def all_books() -> QuerySet[Book]:
    """Every book on sale (the catalog has no unpublished state yet)."""
    return Book.objects.all()


ALL_BOOKS_COUNT_KEY = f"{CACHE_PREFIX}:book-count:all"


# --- Categories ---------------------------------------------------------------------


def category_books(branch: CategoryBranch) -> QuerySet[Book]:
    """Books of a category and all its descendants.

    A category without descendants filters on one ``category_id``, which lets the
    ``book_cat_by_*`` indexes serve the sort directly.
    """
    if len(branch.subtree_ids) == 1:
        return Book.objects.filter(category_id=branch.subtree_ids[0])
    return Book.objects.filter(category_id__in=branch.subtree_ids)


# --- Home page ----------------------------------------------------------------------


@dataclass(frozen=True)
class Shelf:
    """A row of books on the home page with a link to see more."""

    title: str
    books: list[Book]
    category: CategoryLink | None
    sort: str


@dataclass(frozen=True)
class _ShelfLayout:
    title: str
    book_ids: tuple[int, ...]
    category: CategoryLink | None
    sort: str


def _ids(books: QuerySet[Book], sort: str, limit: int) -> tuple[int, ...]:
    return tuple(books.order_by(*SORT_OPTIONS[sort].order_by).values_list("id", flat=True)[:limit])


def _home_layout() -> list[_ShelfLayout]:
    """Which books go on which home shelf: ids only, so the result can be cached safely."""
    shelves = [
        _ShelfLayout(
            "New releases",
            _ids(Book.objects.filter(publication_date__lte=timezone.localdate()), "newest", HOME_SHELF_SIZE),
            None,
            "newest",
        ),
        _ShelfLayout(
            "Top rated",
            _ids(Book.objects.filter(ratings_count__gte=TOP_RATED_MIN_RATINGS), "rating", HOME_SHELF_SIZE),
            None,
            "rating",
        ),
    ]
    rows = settings.CATALOG_HOME_CATEGORY_ROWS
    if rows:
        # Books per category in one grouped query, summed up to the root in Python.
        roots = {link.path: link for link in root_categories()}
        totals: dict[str, int] = {}
        subtree_ids: dict[str, list[int]] = {}
        per_category = (
            Book.objects.filter(category__isnull=False)
            .order_by()
            .values_list("category_id", "category__path")
            .annotate(total=Count("id"))
        )
        for category_id, path, total in per_category:
            root_path = path.split("/", 1)[0]
            totals[root_path] = totals.get(root_path, 0) + total
            subtree_ids.setdefault(root_path, []).append(category_id)
        biggest = sorted((p for p in totals if p in roots), key=lambda p: (-totals[p], roots[p].name))[:rows]
        shelves += [
            _ShelfLayout(
                roots[p].name,
                _ids(Book.objects.filter(category_id__in=subtree_ids[p]), "bestselling", HOME_SHELF_SIZE),
                roots[p],
                "bestselling",
            )
            for p in biggest
        ]
    return [shelf for shelf in shelves if shelf.book_ids]


def home_shelves() -> list[Shelf]:
    """The home page rows: new releases, top rated, then the biggest root categories.

    The layout (which ids go where) is cached; the cards themselves are fetched fresh
    in one query for all shelves, so prices and stock are always current.
    """
    layout = cached(f"{CACHE_PREFIX}:home-layout", _home_layout)
    books = {book.pk: book for book in books_in_order([i for shelf in layout for i in shelf.book_ids])}
    return [
        Shelf(
            title=shelf.title,
            books=[books[i] for i in shelf.book_ids if i in books],
            category=shelf.category,
            sort=shelf.sort,
        )
        for shelf in layout
    ]


# --- Authors ------------------------------------------------------------------------


def author_books(author: Author) -> QuerySet[Book]:
    """Every book ``author`` is credited on."""
    return author_books_by_ids([author.pk])


def author_books_by_ids(author_ids: Sequence[int]) -> QuerySet[Book]:
    """Books credited to any of ``author_ids`` (a semi-join, so no duplicates to remove)."""
    return Book.objects.filter(pk__in=BookAuthor.objects.filter(author_id__in=author_ids).values("book_id"))


# --- Book page ----------------------------------------------------------------------


def book_by_isbn(isbn13: str) -> Book | None:
    """The book with ``isbn13`` with everything its page shows about it, or ``None``."""
    return Book.objects.for_listing().select_related("category").filter(isbn13=isbn13).first()


@dataclass(frozen=True)
class ReviewPage:
    reviews: list[Review]
    page: PageInfo
    # Only reviews from customers who bought the book (``?reviews=verified``).
    verified_only: bool = False


def book_verified_review_count(book: Book) -> int:
    """How many of the book's reviews are verified purchases (the partial ``review_verified_by_book`` index)."""
    return Review.objects.filter(book=book, verified_purchase=True).count()


def book_reviews_page(
    book: Book, *, number: int, page_size: int, verified_only: bool = False, total: int | None = None
) -> ReviewPage:
    """Page ``number`` of a book's reviews (or of its verified purchases only), newest first.

    The total of all reviews is the book's denormalised ``review_count``, kept current by
    the review services, so paging them costs no ``COUNT``; the verified ones are counted
    on their partial index unless the caller counted them already (``total``). Raises
    ``EmptyPage`` past the end.
    """
    if total is None:
        total = book_verified_review_count(book) if verified_only else book.review_count
    page = PageInfo.build(number=number, page_size=page_size, total=total)
    reviews = Review.objects.filter(book=book)
    if verified_only:
        reviews = reviews.filter(verified_purchase=True)
    shown = list(reviews.select_related("user").order_by("-created_at", "-id")[page.offset : page.offset + page_size])
    return ReviewPage(reviews=shown, page=page, verified_only=verified_only)


def review_by_isbn_and_customer(*, isbn13: str, user: AbstractBaseUser | AnonymousUser) -> Review | None:
    """``user``'s review of the book ``isbn13``, if they wrote one (one query; ``None`` for anonymous visitors)."""
    if not user.is_authenticated:
        return None
    return Review.objects.filter(book__isbn13=isbn13, user_id=user.pk).only("pk", "rating", "title").first()


def customer_review(*, review_id: int, user: AbstractBaseUser | AnonymousUser) -> Review | None:
    """The review ``review_id`` only if ``user`` wrote it: the ownership check for edits."""
    if not user.is_authenticated:
        return None
    return Review.objects.select_related("book").filter(pk=review_id, user_id=user.pk).first()


def related_books(book: Book, *, limit: int = RELATED_BOOKS_LIMIT) -> list[Book]:
    """Up to ``limit`` books to suggest beside ``book``: same authors first, then its category.

    Two index-friendly queries for the ids (cached per book) rather than one ``OR``
    across a join, which would have to sort the whole category.
    """

    def compute() -> list[int]:
        author_ids = [link.author_id for link in book.book_authors.all()]
        # Both queries always run (when there is something to ask), so the page's query
        # count does not depend on how many books an author has written.
        ids: list[int] = []
        if author_ids:
            ids += _ids(author_books_by_ids(author_ids).exclude(pk=book.pk), "bestselling", limit)
        if book.category_id is not None:
            in_category = Book.objects.filter(category_id=book.category_id).exclude(pk=book.pk)
            ids += [i for i in _ids(in_category, "bestselling", limit) if i not in ids]
        return ids[:limit]

    return books_in_order(cached(f"{CACHE_PREFIX}:related:{book.pk}", compute))


@dataclass(frozen=True)
class BookLink:
    """A book in a short list of links: its title, page, and its volume when the list is a series."""

    title: str
    url: str
    volume: float | None = None
    is_current: bool = False
    book_id: int = 0

    @property
    def volume_label(self) -> str:
        """``2.0`` → ``"2"``, ``4.5`` → ``"4.5"``; ``""`` for no volume (an omnibus)."""
        if self.volume is None:
            return ""
        return str(int(self.volume)) if self.volume.is_integer() else str(self.volume)


@dataclass(frozen=True)
class ReadingLinks:
    """What to read next from a book's page: its series in reading order, and more by its authors."""

    series: str
    series_books: list[BookLink]
    author_books: list[BookLink]

    @property
    def has_other_series_books(self) -> bool:
        return any(not link.is_current for link in self.series_books)

    @property
    def book_ids(self) -> list[int]:
        """The other books linked (what the kept lists depend on)."""
        return [link.book_id for link in self.series_books + self.author_books if not link.is_current]


def book_reading_links(
    book: Book, *, series_limit: int = SERIES_LINKS_LIMIT, author_limit: int = AUTHOR_LINKS_LIMIT
) -> ReadingLinks:
    """The series ``book``'s title names, in volume order, and other books by its authors.

    One query each, both bounded and both walking the authors' books only (the
    ``book_author_by_author`` index), never the catalog: the series is looked for among
    the authors' books whose title names it, and read with ``catalog.titles.title_parts``,
    as search does. No series query for a title naming none; nothing for a book without
    authors. ``book`` must come with its credits (``book_by_isbn``).
    """
    author_ids = [author_id for author_id, _ in book.author_credits]
    series = title_parts(book.title).series
    if not author_ids:
        return ReadingLinks(series=series, series_books=[], author_books=[])
    series_books: list[BookLink] = []
    if series:
        candidates = (
            author_books_by_ids(author_ids)
            .filter(title__contains=f"({series}")
            .order_by("pk")
            .values_list("pk", "title", "isbn13", "slug")[:SERIES_CANDIDATES_LIMIT]
        )
        volumes = []
        for pk, title, isbn13, slug in candidates:
            parts = title_parts(title)
            if title_key(parts.series) == title_key(series):
                url = reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug})
                volumes.append(BookLink(parts.base, url, parts.number, is_current=pk == book.pk, book_id=pk))
        # Reading order; an omnibus ("#1-3", no volume) after the numbered volumes.
        volumes.sort(key=lambda link: (link.volume is None, link.volume or 0, link.title))
        series_books = volumes[:series_limit]
    in_series = [link.url for link in series_books]
    others = (
        author_books_by_ids(author_ids)
        .exclude(pk=book.pk)
        .order_by("-popularity", "-id")
        .values_list("pk", "title", "isbn13", "slug")[: author_limit + len(in_series)]
    )
    author_links = [
        BookLink(title, reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug}), book_id=pk)
        for pk, title, isbn13, slug in others
    ]
    author_links = [link for link in author_links if link.url not in in_series][:author_limit]
    return ReadingLinks(series=series, series_books=series_books, author_books=author_links)
