"""Partner API serializers for the catalog: what a request may ask, what an answer holds.

Input serializers validate query strings into plain values (and never let a value reach
the database that the database would refuse: ISBNs are checked, numbers are bounded,
strings are short). Output serializers declare every field explicitly, which is what the
OpenAPI schema is generated from; they read only what ``Book.objects.for_listing()``
and the views' ``select_related`` already fetched, so serializing is never a query.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.isbn import is_valid_isbn13, normalize_isbn13
from catalog.models import Author
from catalog.selectors.pages import DEFAULT_SORT, SORT_OPTIONS

MAX_DATABASE_ID = 2**63 - 1
MAX_ISBNS = 100


def absolute_site_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


# --- Input ---------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "minLength": 13, "maxLength": 3000, "pattern": "^[0-9, -]+$"})
class IsbnListField(serializers.Field):
    """A comma-separated list of ISBN-13s (hyphens allowed), validated, deduplicated, in order."""

    default_error_messages = {
        "not_a_list": "A comma-separated list of ISBN-13s.",
        "empty": "Give at least one ISBN-13.",
        "too_many": "At most {maximum} ISBNs per request (got {count}).",
        "invalid": "Not valid ISBN-13s: {isbns}.",
    }

    def __init__(self, *, max_items: int = MAX_ISBNS, **kwargs: Any) -> None:
        self.max_items = max_items
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        if not isinstance(data, str) or len(data) > self.max_items * 20 + 1000:
            self.fail("not_a_list")
        raw_items = [item.strip() for item in data.split(",") if item.strip()]
        if not raw_items:
            self.fail("empty")
        if len(raw_items) > self.max_items:
            self.fail("too_many", maximum=self.max_items, count=len(raw_items))
        isbns = [normalize_isbn13(item) for item in raw_items]
        invalid = [raw for raw, isbn in zip(raw_items, isbns, strict=True) if not is_valid_isbn13(isbn)]
        if invalid:
            shown = ", ".join(item[:20] for item in invalid[:10]) + (" …" if len(invalid) > 10 else "")
            self.fail("invalid", isbns=shown)
        return list(dict.fromkeys(isbns))

    def to_representation(self, value: list[str]) -> str:
        return ",".join(value)


def _id_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(required=False, min_value=1, max_value=MAX_DATABASE_ID, help_text=help_text)


# DRF was made for HTML forms as much as JSON: its CharField turns 0 into "0", and a query
# parameter given empty (?sort=) counts as not given. The schema says "string" and "one of
# these values", so the API refuses both with a 400 naming the input: an integration bug
# shows on its first call instead of as a silently different answer.
EMPTY_PARAMETER_MESSAGE = "May not be empty: leave the parameter out for the default."


class StrictCharField(serializers.CharField):
    """A JSON string and nothing else (DRF's ``CharField`` also takes numbers and makes them strings)."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class QuerySerializer(serializers.Serializer):
    """Query-string input: a parameter present but empty is refused, unless its field allows blank."""

    def to_internal_value(self, data: Any) -> Any:
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            empty = {
                name: [EMPTY_PARAMETER_MESSAGE]
                for name, field in self.fields.items()
                if name in data and not getattr(field, "allow_blank", False) and all(v == "" for v in getlist(name))
            }
            if empty:
                raise serializers.ValidationError(empty)
        return super().to_internal_value(data)


class BookListQuerySerializer(QuerySerializer):
    """Filters and sort of ``GET /api/v1/books/``; every filter is optional and they combine (AND)."""

    sort = serializers.ChoiceField(
        choices=list(SORT_OPTIONS), default=DEFAULT_SORT, help_text="Order of the list (each has an index)."
    )
    category = _id_field("A category id; books in its sub-categories are included.")
    author = _id_field("An author id.")
    price_min = serializers.DecimalField(
        required=False, max_digits=10, decimal_places=2, min_value=0, help_text="Lowest price, inclusive."
    )
    price_max = serializers.DecimalField(
        required=False, max_digits=10, decimal_places=2, min_value=0, help_text="Highest price, inclusive."
    )
    rating_min = serializers.DecimalField(
        required=False, max_digits=3, decimal_places=2, min_value=0, max_value=5, help_text="Lowest average rating."
    )
    in_stock = serializers.BooleanField(required=False, help_text="true: only books in stock.")
    language = serializers.RegexField(
        r"^[a-z]{2,3}$", required=False, max_length=3, help_text="ISO 639-1 code, e.g. `en`."
    )
    published_after = serializers.DateField(required=False, help_text="Published on or after this date.")
    published_before = serializers.DateField(required=False, help_text="Published on or before this date.")
    isbn = IsbnListField(required=False, help_text="Up to 100 ISBN-13s, comma-separated.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("price_min"), attrs.get("price_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"price_max": ["Must not be below price_min."]})
        after, before = attrs.get("published_after"), attrs.get("published_before")
        if after is not None and before is not None and after > before:
            raise serializers.ValidationError({"published_before": ["Must not be before published_after."]})
        return attrs


class AvailabilityQuerySerializer(QuerySerializer):
    isbns = IsbnListField(help_text="1 to 100 ISBN-13s, comma-separated (hyphens allowed).")


class IsbnPathSerializer(serializers.Serializer):
    isbn13 = serializers.CharField(max_length=40)

    def validate_isbn13(self, value: str) -> str:
        isbn = normalize_isbn13(value)
        if not is_valid_isbn13(isbn):
            raise serializers.ValidationError("Not a valid ISBN-13.")
        return isbn


# --- Output --------------------------------------------------------------------------------


class AuthorRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    path = serializers.CharField(help_text="Slash-joined slugs from the root, e.g. `fiction/fantasy`.")


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


class BookSerializer(serializers.Serializer):
    """A book as listed (a ``catalog.selectors.cards.BookCard``): everything a partner's product card needs.

    The declared fields are the contract (the OpenAPI schema is generated from them);
    ``to_representation`` is written out by hand because a page serializes up to 100
    books and DRF's generic field machinery costs ~0.1 ms per book. A test checks that
    both agree key for key and value for value.
    """

    id = serializers.IntegerField()
    isbn13 = serializers.CharField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    authors = AuthorRefSerializer(many=True, help_text="In credit order.")
    category = CategoryRefSerializer(allow_null=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    language = serializers.CharField()
    publication_date = serializers.DateField(allow_null=True)
    average_rating = serializers.FloatField()
    ratings_count = serializers.IntegerField()
    review_count = serializers.IntegerField()
    stock_on_hand = serializers.IntegerField()
    is_in_stock = serializers.BooleanField()
    cover_url = serializers.URLField(allow_null=True)
    url = serializers.URLField(help_text="The book's page on the shop.")

    def to_representation(self, book: Any) -> dict[str, Any]:
        category = book.category
        return {
            "id": book.id,
            "isbn13": book.isbn13,
            "title": book.title,
            "subtitle": book.subtitle,
            "authors": [{"id": author.id, "name": author.name} for author in book.authors],
            "category": {"id": category.id, "name": category.name, "path": category.path} if category else None,
            "price": _money(book.price),
            "currency": book.currency,
            "language": book.language,
            "publication_date": book.publication_date.isoformat() if book.publication_date else None,
            "average_rating": float(book.average_rating),
            "ratings_count": book.ratings_count,
            "review_count": book.review_count,
            "stock_on_hand": book.stock_on_hand,
            "is_in_stock": book.stock_on_hand > 0,
            "cover_url": book.cover_url,
            "url": book.url,
        }


class BookDetailSerializer(BookSerializer):
    """A book with its description and details (a ``catalog.selectors.cards.BookDetails``)."""

    description = serializers.CharField()
    page_count = serializers.IntegerField(allow_null=True)
    publisher = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())

    def to_representation(self, book: Any) -> dict[str, Any]:
        return super().to_representation(book) | {
            "description": book.description,
            "page_count": book.page_count,
            "publisher": book.publisher,
            "tags": list(book.tags),
        }


class AvailabilitySerializer(serializers.Serializer):
    """Price and stock of one book (a ``catalog.selectors.cards.BookAvailability``); by hand, as ``BookSerializer``."""

    isbn13 = serializers.CharField()
    book_id = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    stock_on_hand = serializers.IntegerField()
    is_in_stock = serializers.BooleanField()

    def to_representation(self, row: Any) -> dict[str, Any]:
        return {
            "isbn13": row.isbn13,
            "book_id": row.book_id,
            "price": _money(row.price),
            "currency": row.currency,
            "stock_on_hand": row.stock_on_hand,
            "is_in_stock": row.stock_on_hand > 0,
        }


class AvailabilityResponseSerializer(serializers.Serializer):
    results = AvailabilitySerializer(many=True, help_text="One entry per known ISBN, in the order asked.")
    not_found = serializers.ListField(child=serializers.CharField(), help_text="ISBNs the catalog does not have.")


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    url = serializers.SerializerMethodField(help_text="The author's page on the shop.")

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, author: Author) -> str:
        return absolute_site_url(author.get_absolute_url())


class AuthorDetailSerializer(AuthorSerializer):
    bio = serializers.CharField()
    book_count = serializers.IntegerField()


class CategoryNodeSerializer(serializers.Serializer):
    """A category and, recursively, its sub-categories (``children``, by name)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    path = serializers.CharField()
    depth = serializers.IntegerField(help_text="0 for a root category.")
    children = serializers.SerializerMethodField()

    @extend_schema_field({"type": "array", "items": {"$ref": "#/components/schemas/CategoryNode"}})
    def get_children(self, node: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.to_representation(child) for child in node["children"]]

    def to_representation(self, node: dict[str, Any]) -> dict[str, Any]:
        """Nodes are built as plain dicts of exactly these fields (``catalog.selectors.categories.category_tree``)."""
        return {
            "id": node["id"],
            "name": node["name"],
            "slug": node["slug"],
            "path": node["path"],
            "depth": node["depth"],
            "children": self.get_children(node),
        }


class CategoryTreeSerializer(serializers.Serializer):
    results = CategoryNodeSerializer(many=True, help_text="The root categories, each with its sub-tree.")


class ReviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    rating = serializers.IntegerField(min_value=1, max_value=5)
    title = serializers.CharField()
    body = serializers.CharField()
    reviewer = serializers.CharField(source="user.get_username", help_text="The reviewer's public user name.")
    verified_purchase = serializers.BooleanField(
        help_text="The reviewer bought the book at CloudShelf (a paid or shipped order). Anyone may review."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
