"""Partner API endpoints of the catalog: books, availability, authors, categories, reviews.

Plain DRF views, thin: validate the query with an input serializer, make one read, answer
with an output serializer. Everything partner-wide — key authentication, plan
throttling, the error shape, orjson, keyset pagination, ETag/Last-Modified — comes from
``settings.REST_FRAMEWORK`` and the API middleware (``cloudshelf.api``), so this module
depends on the catalog and DRF only: ``catalog`` never imports ``cloudshelf.api``.

Lists page with keyset cursors over the sort orders of ``catalog.selectors.SORT_OPTIONS``,
each of which matches an index in ``Book.Meta.indexes``, so page 4,000 costs what page 1
does. Catalog answers are the same for every partner and say so: ``Cache-Control:
public`` with a short ``max-age`` (``API_CACHE_MAX_AGE``), so a CDN in front may serve them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.models import Author, Book, BookAuthor, Category, Review, Tag
from catalog.selectors import SORT_OPTIONS, author_books_by_ids
from catalog.serializers import (
    AuthorDetailSerializer,
    AuthorSerializer,
    AvailabilityQuerySerializer,
    AvailabilityResponseSerializer,
    BookDetailSerializer,
    BookListQuerySerializer,
    BookSerializer,
    CategoryTreeSerializer,
    IsbnPathSerializer,
    ReviewSerializer,
)

TAG_BOOKS, TAG_AUTHORS, TAG_CATEGORIES = "Books", "Authors", "Categories"
# Cached category rows are a pickled dataclass list: bump when their shape changes.
CATEGORY_ROWS_CACHE_KEY = "catalog:api:v1:category-rows"
CATEGORY_ROWS_CACHE_SECONDS = 5 * 60


def public(response: Response, *, max_age: int | None = None) -> Response:
    """Mark a catalog answer cacheable by browsers and CDNs (it is the same for every partner)."""
    age = settings.API_CACHE_MAX_AGE if max_age is None else max_age
    patch_cache_control(response, public=True, max_age=age, stale_while_revalidate=age)
    return response


# --- Reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRow:
    id: int
    name: str
    slug: str
    path: str
    depth: int
    parent_id: int | None


# Each process also keeps the rows this long: every filtered list consults them, and
# unpickling ~100 rows from the cache on each request cost more than the rest of the filter.
CATEGORY_ROWS_MEMO_SECONDS = 5.0
_category_rows_memo: tuple[float, list[CategoryRow]] | None = None


def category_rows() -> list[CategoryRow]:
    """Every category, root first by path: process memo (5 s), then the shared cache (5 min), then one query."""
    global _category_rows_memo
    memo, now = _category_rows_memo, time.monotonic()
    if memo is not None and memo[0] > now:
        return memo[1]
    rows: list[CategoryRow] | None = cache.get(CATEGORY_ROWS_CACHE_KEY)
    if rows is None:
        rows = [
            CategoryRow(*values)
            for values in Category.objects.order_by("path").values_list(
                "id", "name", "slug", "path", "depth", "parent_id"
            )
        ]
        cache.set(CATEGORY_ROWS_CACHE_KEY, rows, CATEGORY_ROWS_CACHE_SECONDS)
    _category_rows_memo = (now + CATEGORY_ROWS_MEMO_SECONDS, rows)
    return rows


def category_rows_forget() -> None:
    """Drop the memo and the cached rows (tests, and whoever changes the tree and cannot wait)."""
    global _category_rows_memo
    _category_rows_memo = None
    cache.delete(CATEGORY_ROWS_CACHE_KEY)


def category_subtree_ids(category_id: int) -> list[int] | None:
    """The category and all its descendants, or ``None`` when there is no such category."""
    rows = category_rows()
    root = next((row for row in rows if row.id == category_id), None)
    if root is None:
        return None
    return [row.id for row in rows if row.path == root.path or row.path.startswith(f"{root.path}/")]


def category_tree() -> list[dict[str, Any]]:
    """The category tree as nested dicts, siblings by name."""
    rows = category_rows()
    nodes: dict[int, dict[str, Any]] = {
        row.id: {"id": row.id, "name": row.name, "slug": row.slug, "path": row.path, "depth": row.depth, "children": []}
        for row in rows
    }
    roots: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda row: (row.name.lower(), row.id)):
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent["children"] if parent is not None else roots).append(nodes[row.id])
    return roots


# A book card is read as plain values, not model instances: a page of 100 books with
# their stock, category and authors costs a third of the CPU that way, and the API is
# the busiest reader of the catalog. The columns of every sort order are included, so
# the keyset cursor can be made from the last row.
_CARD_COLUMNS = (
    "id",
    "isbn13",
    "title",
    "subtitle",
    "slug",
    "price",
    "currency",
    "language",
    "publication_date",
    "publication_sort_date",
    "average_rating",
    "ratings_count",
    "review_count",
    "popularity",
    "cover_url",
    "cover_image",
    "category_id",
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
class CategoryRef:
    id: int
    name: str
    path: str


@dataclass(frozen=True)
class BookCard:
    """What a partner's product card needs about a book (``BookSerializer``'s fields)."""

    id: int
    isbn13: str
    title: str
    subtitle: str
    authors: tuple[AuthorRef, ...]
    category: CategoryRef | None
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


_BOOK_URL_PLACEHOLDERS = ("9780000000000", "placeholder-slug")


@lru_cache(maxsize=1)
def _book_url_template() -> str:
    """The book page URL with placeholders, reversed once per process (``reverse`` per book is slow)."""
    isbn13, slug = _BOOK_URL_PLACEHOLDERS
    return settings.SITE_URL + reverse("catalog:book", kwargs={"isbn13": isbn13, "slug": slug})


def _book_url(isbn13: str, slug: str) -> str:
    isbn_placeholder, slug_placeholder = _BOOK_URL_PLACEHOLDERS
    return _book_url_template().replace(isbn_placeholder, isbn13, 1).replace(slug_placeholder, slug, 1)


def _absolute(url: str) -> str:
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
            CategoryRef(row["category_id"], row["category__name"], row["category__path"])
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
        "cover_url": _absolute(default_storage.url(cover)) if cover else row["cover_url"] or None,
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

    Authors come with the books (``Book.author_credits``), categories from the cached category rows.
    """
    categories = {row.id: CategoryRef(row.id, row.name, row.path) for row in category_rows()}
    cards = []
    for book in books:
        row = {field: getattr(book, field) for field in _CARD_MODEL_FIELDS}
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


_CARD_MODEL_FIELDS = (
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
    ``book_cards`` turns a page of rows into cards.
    """
    conditions = Q()
    subtree: list[int] = []
    if category is not None:
        subtree = category_subtree_ids(category) or []
        if not subtree:
            raise ValidationError({"category": ["There is no category with this id."]})
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


def book_details(**lookup: Any) -> BookDetails | None:
    """The book matching ``lookup`` (``pk=…`` or ``isbn13=…``) with its details, or ``None``. Three queries."""
    row = Book.objects.filter(**lookup).values(*_DETAIL_COLUMNS).first()
    if row is None:
        return None
    tags = tuple(Tag.objects.filter(books=row["id"]).order_by("name").values_list("name", flat=True))
    return BookDetails(
        **_card_fields(row, _authors_of([row["id"]])),
        description=row["description"],
        page_count=row["page_count"],
        publisher=row["publisher"],
        tags=tags,
    )


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


# --- Examples (they are in the schema; schemathesis also replays them) ------------------------

_BOOK_EXAMPLE = {
    "id": 4711,
    "isbn13": "9780306406157",
    "title": "The Glass Orchard",
    "subtitle": "A Novel",
    "authors": [{"id": 12, "name": "Mara Quill"}],
    "category": {"id": 3, "name": "Fantasy", "path": "fiction/fantasy"},
    "price": "14.99",
    "currency": "USD",
    "language": "en",
    "publication_date": "2024-03-05",
    "average_rating": 4.31,
    "ratings_count": 1288,
    "review_count": 17,
    "stock_on_hand": 42,
    "is_in_stock": True,
    "cover_url": None,
    "url": "https://shop.example.com/books/9780306406157/the-glass-orchard/",
}


_BOOK_DETAIL_EXAMPLE = _BOOK_EXAMPLE | {
    "description": "An orchard of glass.",
    "page_count": 352,
    "publisher": "Quill & Co",
    "tags": ["literary fantasy"],
}
_AUTHOR_EXAMPLE = {
    "id": 12,
    "name": "Mara Quill",
    "slug": "mara-quill",
    "url": "https://shop.example.com/authors/mara-quill/",
}


# --- Views -----------------------------------------------------------------------------------


class BookListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_list",
        summary="List books",
        description=(
            "Books matching every filter given, in `sort` order, a page at a time. Follow `next` "
            "(or pass `next_cursor` as `cursor`) for the next page; deep pages are as fast as the first."
        ),
        parameters=[BookListQuerySerializer],
        responses=BookSerializer(many=True),
        examples=[
            # One book; the schema shows it inside a page (results, next_cursor, next).
            OpenApiExample("A page of books", value=_BOOK_EXAMPLE, response_only=True)
        ],
    )
    def get(self, request: Request) -> Response:
        query = BookListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        cards = book_cards(self.paginate_queryset(books_matching(**query.validated_data)))
        return public(self.get_paginated_response(BookSerializer(cards, many=True).data))


def _details_or_404(**lookup: Any) -> BookDetails:
    book = book_details(**lookup)
    if book is None:
        raise NotFound("There is no book with this id or ISBN.")
    return book


class BookDetailView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_retrieve",
        summary="Get a book by id",
        responses=BookDetailSerializer,
        examples=[OpenApiExample("A book", value=_BOOK_DETAIL_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, book_id: int) -> Response:
        return public(Response(BookDetailSerializer(_details_or_404(pk=book_id)).data))


class BookByIsbnView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_retrieve_by_isbn",
        summary="Get a book by ISBN-13",
        examples=[OpenApiExample("A book", value=_BOOK_DETAIL_EXAMPLE, response_only=True)],
        parameters=[
            OpenApiParameter(
                "isbn13",
                {"type": "string", "pattern": "^97[89][0-9-]{10,16}$", "maxLength": 19},
                OpenApiParameter.PATH,
                description="ISBN-13; hyphens allowed.",
            )
        ],
        responses=BookDetailSerializer,
    )
    def get(self, request: Request, isbn13: str) -> Response:
        path = IsbnPathSerializer(data={"isbn13": isbn13})
        path.is_valid(raise_exception=True)
        book = _details_or_404(isbn13=path.validated_data["isbn13"])
        return public(Response(BookDetailSerializer(book).data))


class AvailabilityView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_availability",
        summary="Price and stock for up to 100 ISBNs",
        description="One call for a whole product feed page. Unknown ISBNs are listed in `not_found`.",
        parameters=[AvailabilityQuerySerializer],
        responses=AvailabilityResponseSerializer,
        examples=[
            OpenApiExample(
                "Two known ISBNs and an unknown one",
                value={
                    "results": [
                        {
                            "isbn13": "9780306406157",
                            "book_id": 4711,
                            "price": "14.99",
                            "currency": "USD",
                            "stock_on_hand": 42,
                            "is_in_stock": True,
                        },
                        {
                            "isbn13": "9781861972712",
                            "book_id": 815,
                            "price": "9.50",
                            "currency": "USD",
                            "stock_on_hand": 0,
                            "is_in_stock": False,
                        },
                    ],
                    "not_found": ["9780000000002"],
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        books, not_found = books_availability(query.validated_data["isbns"])
        body = AvailabilityResponseSerializer({"results": books, "not_found": not_found}).data
        return public(Response(body), max_age=settings.API_AVAILABILITY_MAX_AGE)


class AuthorListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_AUTHORS],
        operation_id="authors_list",
        summary="List authors by name",
        responses=AuthorSerializer(many=True),
        examples=[OpenApiExample("A page of authors", value=_AUTHOR_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request) -> Response:
        authors = self.paginate_queryset(Author.objects.only("id", "name", "slug").order_by("name", "id"))
        return public(self.get_paginated_response(AuthorSerializer(authors, many=True).data))


class AuthorDetailView(GenericAPIView):
    @extend_schema(
        tags=[TAG_AUTHORS],
        operation_id="authors_retrieve",
        summary="Get an author",
        description="Their books: `GET /api/v1/books/?author=<id>`.",
        responses=AuthorDetailSerializer,
        examples=[
            OpenApiExample(
                "An author",
                value=_AUTHOR_EXAMPLE | {"bio": "Writes about glass and orchards.", "book_count": 7},
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, author_id: int) -> Response:
        author = Author.objects.filter(pk=author_id).annotate(book_count=Count("author_books")).first()
        if author is None:
            raise NotFound("There is no author with this id.")
        return public(Response(AuthorDetailSerializer(author).data))


class CategoryTreeView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_CATEGORIES],
        operation_id="categories_tree",
        summary="The category tree",
        description="Every category, nested. Filter books by one with `GET /api/v1/books/?category=<id>`.",
        responses=CategoryTreeSerializer,
        examples=[
            OpenApiExample(
                "A small tree",
                value={
                    "results": [
                        {
                            "id": 1,
                            "name": "Fiction",
                            "slug": "fiction",
                            "path": "fiction",
                            "depth": 0,
                            "children": [
                                {
                                    "id": 3,
                                    "name": "Fantasy",
                                    "slug": "fantasy",
                                    "path": "fiction/fantasy",
                                    "depth": 1,
                                    "children": [],
                                }
                            ],
                        }
                    ]
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return public(Response(CategoryTreeSerializer({"results": category_tree()}).data))


class BookReviewListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_reviews_list",
        summary="A book's reviews, newest first",
        responses=ReviewSerializer(many=True),
        examples=[
            OpenApiExample(
                "A page of reviews",
                value={
                    "id": 98,
                    "rating": 5,
                    "title": "Luminous",
                    "body": "Read it in one sitting.",
                    "reviewer": "ada",
                    "created_at": "2026-10-02T18:04:11Z",
                    "updated_at": "2026-10-02T18:04:11Z",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, book_id: int) -> Response:
        if not Book.objects.filter(pk=book_id).exists():
            raise NotFound("There is no book with this id.")
        reviews = (
            Review.objects.filter(book_id=book_id)
            .select_related("user")
            .only("id", "rating", "title", "body", "created_at", "updated_at", "book_id", "user__username")
            .order_by("-created_at", "-id")
        )
        return public(self.get_paginated_response(ReviewSerializer(self.paginate_queryset(reviews), many=True).data))
