"""Books as the partner API shows them: cards of plain values, read without model instances.

A book card is read as plain values, not model instances: a page of 100 books with their
stock, category and authors costs a third of the CPU that way, and the API is the busiest
reader of the catalog. ``books_matching`` filters and orders card rows (every order is an
indexed one, ready for keyset pagination), ``book_cards`` turns a page of them into
``BookCard``s with their authors in one query; ``cards_of_books`` does the same for books
already loaded (search results) without a query.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse

from catalog.models import Author, Book, BookAuthor
from catalog.selectors.categories import CategoryLink, category_index, category_subtree_ids
from catalog.selectors.pages import SORT_OPTIONS, author_books_by_ids, sort_columns

# What a card shows of the book row itself: read as values by ``books_matching`` and as
# attributes of loaded books by ``cards_of_books``.
_CARD_BOOK_FIELDS = (
    "id",
    "isbn13",
    "title",
    "subtitle",
    "slug",
    "price",
    "currency",
    "language",
    "publication_date",
    "average_rating",
    "ratings_count",
    "review_count",
    "cover_url",
    "category_id",
)
# The columns of every sort order not shown on a card, so a keyset cursor can be made from the last row.
_SORT_ONLY_FIELDS = tuple(
    dict.fromkeys(
        name for sort in SORT_OPTIONS.values() for name, _ in sort_columns(sort) if name not in _CARD_BOOK_FIELDS
    )
)
_CARD_COLUMNS = (
    *_CARD_BOOK_FIELDS,
    *_SORT_ONLY_FIELDS,
    "cover_image",
    "category__name",
    "category__path",
    "inventory__stock_on_hand",
)
_DETAIL_COLUMNS = (*_CARD_COLUMNS, "description", "page_count", "publisher")


@dataclass(frozen=True)
class AuthorRef:
    id: int
    name: str


@dataclass(frozen=True)
class BookCard:
    """What a partner's product card needs about a book (``BookSerializer``'s fields)."""

    id: int
    isbn13: str
    title: str
    subtitle: str
    authors: tuple[AuthorRef, ...]
    category: CategoryLink | None
    price: Decimal
    currency: str
    language: str
    publication_date: date | None
    average_rating: Decimal
    ratings_count: int
    review_count: int
    stock_on_hand: int
    cover_url: str | None
    url: str

    @property
    def is_in_stock(self) -> bool:
        return self.stock_on_hand > 0


@dataclass(frozen=True)
class BookDetails(BookCard):
    description: str
    page_count: int | None
    publisher: str
    tags: tuple[str, ...]


class UnknownCategoryError(LookupError):
    """``books_matching`` was asked for the books of a category that does not exist."""


_BOOK_URL_PLACEHOLDERS = ("9780000000000", "placeholder-slug")


@lru_cache(maxsize=1)
def _book_url_template() -> str:
    """The book page URL with placeholders, reversed once per process (``reverse`` per book is slow)."""
    isbn13, slug = _BOOK_URL_PLACEHOLDERS
    return settings.SITE_URL + reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug})


def _book_url(isbn13: str, slug: str) -> str:
    isbn_placeholder, slug_placeholder = _BOOK_URL_PLACEHOLDERS
    return _book_url_template().replace(isbn_placeholder, isbn13, 1).replace(slug_placeholder, slug, 1)


def absolute_url(url: str) -> str:
    """Media URLs are site-relative until they move to a CDN; partners get absolute ones either way."""
    return url if url.startswith(("http://", "https://")) else settings.SITE_URL + url


def _card_fields(row: dict[str, Any], authors: dict[int, list[AuthorRef]]) -> dict[str, Any]:
    cover = row["cover_image"]
    return {
        "id": row["id"],
        "isbn13": row["isbn13"],
        "title": row["title"],
        "subtitle": row["subtitle"],
        "authors": tuple(authors.get(row["id"], ())),
        "category": (
            CategoryLink(row["category_id"], row["category__name"], row["category__path"])
            if row["category_id"] is not None
            else None
        ),
        "price": row["price"],
        "currency": row["currency"],
        "language": row["language"],
        "publication_date": row["publication_date"],
        "average_rating": row["average_rating"],
        "ratings_count": row["ratings_count"],
        "review_count": row["review_count"],
        "stock_on_hand": row["inventory__stock_on_hand"] or 0,
        "cover_url": absolute_url(default_storage.url(cover)) if cover else row["cover_url"] or None,
        "url": _book_url(row["isbn13"], row["slug"]),
    }


def _authors_of(book_ids: list[int]) -> dict[int, list[AuthorRef]]:
    """Authors of each book in credit order: one query for all of them.

    Written in SQL (portable: SQLite too) because building and compiling the ORM join cost
    more CPU than running it, on every page of every list.
    """
    authors: dict[int, list[AuthorRef]] = {}
    if not book_ids:
        return authors
    quote = connection.ops.quote_name
    sql = (
        f"SELECT link.book_id, author.id, author.name FROM {quote(BookAuthor._meta.db_table)} link "
        f"JOIN {quote(Author._meta.db_table)} author ON author.id = link.author_id "
        f"WHERE link.book_id IN ({', '.join(['%s'] * len(book_ids))}) ORDER BY link.book_id, link.position"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, book_ids)
        for book_id, author_id, name in cursor.fetchall():
            authors.setdefault(book_id, []).append(AuthorRef(author_id, name))
    return authors


def cards_of_books(books: list[Book]) -> list[BookCard]:
    """Cards for books already loaded with ``books_in_order`` or ``for_listing()`` (search results): no query.

    Authors come with the books (``Book.author_credits``), categories from the category index.
    """
    categories = category_index().links_by_id
    cards = []
    for book in books:
        row = {field: getattr(book, field) for field in _CARD_BOOK_FIELDS}
        row |= {
            "cover_image": book.cover_image.name if book.cover_image else "",
            "category__name": None,
            "category__path": None,
            "inventory__stock_on_hand": book.stock_on_hand,
        }
        card = _card_fields(row, {book.pk: [AuthorRef(author_id, name) for author_id, name in book.author_credits]})
        card["category"] = categories.get(book.category_id) if book.category_id is not None else None
        cards.append(BookCard(**card))
    return cards


def book_cards(rows: list[dict[str, Any]]) -> list[BookCard]:
    """Cards for rows of ``books_matching`` (in their order), with their authors (one query)."""
    if not rows:
        return []
    authors = _authors_of([row["id"] for row in rows])
    return [BookCard(**_card_fields(row, authors)) for row in rows]


class CategoryTreeBooks:
    """The books of a category and its sub-categories in one sort order, read category by category.

    ``category_id IN (…) ORDER BY title LIMIT 25`` makes Postgres walk the whole-catalog title
    index and skip every book of other categories (10+ ms for a mid-sized subtree). Here
    each category's own ``book_cat_by_*`` index yields its first rows after the cursor
    (``CROSS JOIN LATERAL``) and the few dozen candidates are merged: about 1 ms, whatever
    the subtree. The keyset pagination asks for pages through ``keyset_rows``.
    """

    def __init__(self, queryset: QuerySet[Book, dict[str, Any]], category_ids: list[int]) -> None:
        self.queryset = queryset  # ordered, with the card columns; its category filter is the plain fallback
        self.category_ids = category_ids
        self.model = queryset.model
        self.query = queryset.query

    def keyset_rows(
        self, *, order: Sequence[tuple[str, bool]], after: tuple[str, list[Any]] | None, limit: int
    ) -> list[dict[str, Any]]:
        """The next ``limit`` card rows; ``order``: (column, is_descending) pairs; ``after``: the cursor's condition."""
        quote = connection.ops.quote_name
        names = [quote(column) for column, _ in order]
        directions = ["DESC" if is_descending else "ASC" for _, is_descending in order]
        where, params = after if after is not None else ("TRUE", [])
        sql = (
            f"SELECT b.id FROM unnest(%s::bigint[]) AS c(category_id) CROSS JOIN LATERAL ("
            f"SELECT {', '.join(names)} FROM {quote(Book._meta.db_table)} "
            f"WHERE category_id = c.category_id AND {where} "
            f"ORDER BY {', '.join(f'{n} {d}' for n, d in zip(names, directions, strict=True))} LIMIT %s) AS b "
            f"ORDER BY {', '.join(f'b.{n} {d}' for n, d in zip(names, directions, strict=True))} LIMIT %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.category_ids, *params, limit, limit])
            ids = [row[0] for row in cursor.fetchall()]
        rows = {row["id"]: row for row in self.queryset.filter(pk__in=ids).order_by()}
        return [rows[book_id] for book_id in ids if book_id in rows]


def books_matching(
    *,
    sort: str,
    category: int | None = None,
    author: int | None = None,
    price_min: Decimal | None = None,
    price_max: Decimal | None = None,
    rating_min: Decimal | None = None,
    in_stock: bool = False,
    language: str | None = None,
    published_after: date | None = None,
    published_before: date | None = None,
    isbn: list[str] | None = None,
) -> QuerySet[Book, dict[str, Any]] | CategoryTreeBooks:
    """Card rows (values) of the books matching the filters, in ``sort`` order (a ``SORT_OPTIONS`` key).

    The order is one of the indexed ones, ending in ``id``, ready for keyset pagination;
    ``book_cards`` turns a page of rows into cards. Raises ``UnknownCategoryError`` for a
    ``category`` that does not exist.
    """
    conditions = Q()
    subtree: list[int] = []
    if category is not None:
        subtree = category_subtree_ids(category) or []
        if not subtree:
            raise UnknownCategoryError(category)
        conditions &= Q(category_id=subtree[0]) if len(subtree) == 1 else Q(category_id__in=subtree)
    # The merge is Postgres SQL (LATERAL, arrays); the embedded default's SQLite gets the plain query.
    only_category = len(subtree) > 1 and conditions == Q(category_id__in=subtree) and connection.vendor == "postgresql"
    if author is not None:
        conditions &= Q(pk__in=author_books_by_ids([author]).values("pk"))
    if price_min is not None:
        conditions &= Q(price__gte=price_min)
    if price_max is not None:
        conditions &= Q(price__lte=price_max)
    if rating_min is not None:
        conditions &= Q(average_rating__gte=rating_min)
    if in_stock:
        conditions &= Q(inventory__stock_on_hand__gt=0)
    if language:
        conditions &= Q(language=language)
    if published_after is not None:
        conditions &= Q(publication_date__gte=published_after)
    if published_before is not None:
        conditions &= Q(publication_date__lte=published_before)
    if isbn:
        conditions &= Q(isbn13__in=isbn)
    rows = _card_rows(sort).filter(conditions)
    return CategoryTreeBooks(rows, subtree) if only_category else rows


@lru_cache(maxsize=len(SORT_OPTIONS))
def _card_rows(sort: str) -> QuerySet[Book, dict[str, Any]]:
    """Card rows of every book in ``sort`` order: built once per process and only ever cloned
    (``filter`` returns a copy), because resolving twenty columns and two joins on each request
    cost more than the query's own filter."""
    return Book.objects.order_by(*SORT_OPTIONS[sort].order_by).values(*_CARD_COLUMNS)


def all_book_id_batches(batch_size: int = 2000) -> Iterator[list[int]]:
    """Every book id in ascending batches, by keyset pagination (no OFFSET, no long transaction).

    For the jobs that walk the whole catalog: search index rebuilds and checks, the hot
    records' backfill and drift check.
    """
    last_id = 0
    while True:
        ids = list(Book.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last_id = ids[-1]


def book_details(**lookup: Any) -> BookDetails | None:
    """The book matching ``lookup`` (``pk=…`` or ``isbn13=…``) with its details, or ``None``. Three queries."""
    row = Book.objects.filter(**lookup).values(*_DETAIL_COLUMNS).first()
    return _details_of([row])[row["id"]] if row is not None else None


def books_details(book_ids: Sequence[int]) -> dict[int, BookDetails]:
    """Details of many books by id (the ones that exist), in three queries whatever their number.

    ``book_details`` for a batch: the DynamoDB hot record sync (``catalog.hot``) stores exactly
    what the partner API's book detail shows, so either store gives the same answer.
    """
    ids = list(book_ids)
    return _details_of(list(Book.objects.filter(pk__in=ids).values(*_DETAIL_COLUMNS))) if ids else {}


def _details_of(rows: list[dict[str, Any]]) -> dict[int, BookDetails]:
    """``BookDetails`` of detail rows, by id: their authors and tags in one query each."""
    found = [row["id"] for row in rows]
    authors = _authors_of(found)
    tags: dict[int, list[str]] = {}
    for book_id, name in (
        Book.tags.through.objects.filter(book_id__in=found).order_by("tag__name").values_list("book_id", "tag__name")
    ):
        tags.setdefault(book_id, []).append(name)
    return {
        row["id"]: BookDetails(
            **_card_fields(row, authors),
            description=row["description"],
            page_count=row["page_count"],
            publisher=row["publisher"],
            tags=tuple(tags.get(row["id"], ())),
        )
        for row in rows
    }


@dataclass(frozen=True)
class BookAvailability:
    """Price and stock of one book: plain values, no model instances (a call may ask for 100)."""

    isbn13: str
    book_id: int
    price: Decimal
    currency: str
    stock_on_hand: int

    @property
    def is_in_stock(self) -> bool:
        return self.stock_on_hand > 0


def books_availability(isbns: list[str]) -> tuple[list[BookAvailability], list[str]]:
    """Price and stock for ``isbns`` in one query: the books found (in the order asked) and the rest."""
    rows = Book.objects.filter(isbn13__in=isbns).values_list(
        "isbn13", "id", "price", "currency", "inventory__stock_on_hand"
    )
    found = {
        isbn13: BookAvailability(isbn13, book_id, price, currency, stock or 0)
        for isbn13, book_id, price, currency, stock in rows
    }
    return [found[isbn] for isbn in isbns if isbn in found], [isbn for isbn in isbns if isbn not in found]
