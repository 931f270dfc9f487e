"""Partner API endpoints of the catalog: books, availability, authors, categories, reviews.

Plain DRF views, thin: validate the query with an input serializer, make one read, answer
with an output serializer. Everything partner-wide — key authentication, plan
throttling, the error shape, orjson, keyset pagination, ETag/Last-Modified — comes from
``settings.REST_FRAMEWORK`` and the API middleware (``cloudshelf.api``); of that package
this module imports only the cache-header helper, and nothing else in ``catalog`` imports it.
The reads are ``catalog.selectors.cards`` (book detail and availability through ``catalog.hot.reads``:
DynamoDB when configured) and ``catalog.selectors.categories``; the OpenAPI
examples are ``catalog.api_examples``.

Lists page with keyset cursors over the sort orders of ``catalog.selectors.pages.SORT_OPTIONS``,
each of which matches an index in ``Book.Meta.indexes``, so page 4,000 costs what page 1
does. Catalog answers are the same for every partner and say so: ``Cache-Control:
public`` with a short ``max-age`` (``API_CACHE_MAX_AGE``), so a CDN in front may serve them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from catalog import api_examples as examples
from catalog.hot.reads import hot_book_details, hot_books_availability
from catalog.models import Author, Book, Review
from catalog.selectors.cards import BookDetails, UnknownCategoryError, book_cards, books_matching
from catalog.selectors.categories import category_tree
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
from cloudshelf.api.caching import public

TAG_BOOKS, TAG_AUTHORS, TAG_CATEGORIES = "Books", "Authors", "Categories"


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
        examples=[examples.BOOK_PAGE],
    )
    def get(self, request: Request) -> Response:
        query = BookListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            rows = books_matching(**query.validated_data)
        except UnknownCategoryError:
            raise ValidationError({"category": ["There is no category with this id."]}) from None
        cards = book_cards(self.paginate_queryset(rows))
        return public(self.get_paginated_response(BookSerializer(cards, many=True).data))


def _details_or_404(**lookup: Any) -> BookDetails:
    # From DynamoDB when configured (Postgres when it is slow or down): the same answer either way.
    book = hot_book_details(**lookup)
    if book is None:
        raise NotFound("There is no book with this id or ISBN.")
    return book


class BookDetailView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_retrieve",
        summary="Get a book by id",
        responses=BookDetailSerializer,
        examples=[examples.BOOK],
    )
    def get(self, request: Request, book_id: int) -> Response:
        return public(Response(BookDetailSerializer(_details_or_404(book_id=book_id)).data))


class BookByIsbnView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_retrieve_by_isbn",
        summary="Get a book by ISBN-13",
        examples=[examples.BOOK],
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
        examples=[examples.AVAILABILITY],
    )
    def get(self, request: Request) -> Response:
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        books, not_found = hot_books_availability(query.validated_data["isbns"])
        body = AvailabilityResponseSerializer({"results": books, "not_found": not_found}).data
        return public(Response(body), max_age=settings.API_AVAILABILITY_MAX_AGE)


class AuthorListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_AUTHORS],
        operation_id="authors_list",
        summary="List authors by name",
        responses=AuthorSerializer(many=True),
        examples=[examples.AUTHOR_PAGE],
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
        examples=[examples.AUTHOR],
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
        examples=[examples.CATEGORY_TREE],
    )
    def get(self, request: Request) -> Response:
        return public(Response(CategoryTreeSerializer({"results": category_tree()}).data))


class BookReviewListView(GenericAPIView):
    @extend_schema(
        tags=[TAG_BOOKS],
        operation_id="books_reviews_list",
        summary="A book's reviews, newest first",
        responses=ReviewSerializer(many=True),
        examples=[examples.REVIEW_PAGE],
    )
    def get(self, request: Request, book_id: int) -> Response:
        if not Book.objects.filter(pk=book_id).exists():
            raise NotFound("There is no book with this id.")
        reviews = (
            Review.objects.filter(book_id=book_id)
            .select_related("user")
            .only(
                "id",
                "rating",
                "title",
                "body",
                "verified_purchase",
                "created_at",
                "updated_at",
                "book_id",
                "user__username",
            )
            .order_by("-created_at", "-id")
        )
        return public(self.get_paginated_response(ReviewSerializer(self.paginate_queryset(reviews), many=True).data))
