"""Hot records: built from Postgres, turned into DynamoDB items and back.

A record holds what the partner API's book detail shows (``BookDetails``, so either store
answers identically), plus what pages could show without Postgres: the page's cover and the
three newest review snippets. Money and ratings are strings (exact decimals, never floats).
The category is kept as its id and named from the in-process category index on the way
out, so renaming a category rewrites no record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from django.core.files.storage import default_storage
from django.db.models import F, Window
from django.db.models.functions import RowNumber

from catalog.hot.dynamo import SORT_KEY
from catalog.models import Book, CoverRendition, Review
from catalog.selectors.cards import AuthorRef, BookAvailability, BookDetails, books_details
from catalog.selectors.categories import category_index

SNIPPETS = 3
SNIPPET_CHARS = 200

_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


@dataclass(frozen=True)
class HotRecord:
    """One book's hot record: its details, page cover, review snippets, and version."""

    details: BookDetails
    category_id: int | None
    page_cover_url: str
    reviews: tuple[dict[str, Any], ...]
    version: int

    def attributes(self) -> dict[str, Any]:
        """The record as plain attribute values (both items of the book hold these)."""
        d = self.details
        return {
            "book_id": d.id,
            "isbn13": d.isbn13,
            "title": d.title,
            "subtitle": d.subtitle,
            "authors": [{"id": author.id, "name": author.name} for author in d.authors],
            "category_id": self.category_id,
            "price": str(d.price),
            "currency": d.currency,
            "language": d.language,
            "publication_date": d.publication_date.isoformat() if d.publication_date else None,
            "average_rating": str(d.average_rating),
            "ratings_count": d.ratings_count,
            "review_count": d.review_count,
            "stock": d.stock_on_hand,
            "cover_url": d.cover_url,
            "page_cover_url": self.page_cover_url,
            "url": d.url,
            "description": d.description,
            "page_count": d.page_count,
            "publisher": d.publisher,
            "tags": list(d.tags),
            "reviews": list(self.reviews),
            "version": self.version,
        }

    def items(self) -> list[dict[str, Any]]:
        """The book's two DynamoDB items (by id, by ISBN), in the low-level client's typed form."""
        body = {name: _serializer.serialize(value) for name, value in self.attributes().items()}
        return [
            {"pk": {"S": f"BOOK#{self.details.id}"}, "sk": {"S": SORT_KEY}, **body},
            {"pk": {"S": f"ISBN#{self.details.isbn13}"}, "sk": {"S": SORT_KEY}, **body},
        ]


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A typed DynamoDB item as plain Python values (numbers come back as ``Decimal``)."""
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def details_of_item(item: dict[str, Any]) -> BookDetails:
    """The ``BookDetails`` a typed item holds: what ``book_details`` gives for the same state."""
    values = plain(item)
    category_id = values["category_id"]
    return BookDetails(
        id=int(values["book_id"]),
        isbn13=values["isbn13"],
        title=values["title"],
        subtitle=values["subtitle"],
        authors=tuple(AuthorRef(int(author["id"]), author["name"]) for author in values["authors"]),
        category=category_index().links_by_id.get(int(category_id)) if category_id is not None else None,
        price=Decimal(values["price"]),
        currency=values["currency"],
        language=values["language"],
        publication_date=date.fromisoformat(values["publication_date"]) if values["publication_date"] else None,
        average_rating=Decimal(values["average_rating"]),
        ratings_count=int(values["ratings_count"]),
        review_count=int(values["review_count"]),
        stock_on_hand=int(values["stock"]),
        cover_url=values["cover_url"],
        url=values["url"],
        description=values["description"],
        page_count=int(values["page_count"]) if values["page_count"] is not None else None,
        publisher=values["publisher"],
        tags=tuple(values["tags"]),
    )


def availability_of_item(item: dict[str, Any]) -> BookAvailability:
    """Price and stock from a typed item (availability reads project just these attributes)."""
    values = plain(item)
    return BookAvailability(
        values["isbn13"], int(values["book_id"]), Decimal(values["price"]), values["currency"], int(values["stock"])
    )


def _page_cover_url(row: dict[str, Any]) -> str:
    """The cover the book page shows: a staff upload, else the largest fetched WebP, else "" (drawn SVG)."""
    if row["cover_image"]:
        return str(default_storage.url(row["cover_image"]))
    book = Book(**row)
    webp = [rendition for rendition in book.fetched_cover if rendition.format == "webp"]
    return str(default_storage.url(max(webp, key=lambda r: r.width).name)) if webp else ""


def hot_records(book_ids: list[int]) -> dict[int, HotRecord]:
    """The current hot records of those of ``book_ids`` that exist, read from Postgres in five queries.

    The version is read first, the content after: content can only be as new as the version
    or newer (never older), so a write carrying it can never put older content over newer.
    """
    versions = {
        row["id"]: row
        for row in Book.objects.filter(pk__in=book_ids).values(
            "id",
            "category_id",
            "hot_version",
            "inventory__hot_version",
            "cover_image",
            "cover_url",
            "cover_source_url",
            "cover_fetched_at",
            "cover_renditions",
        )
    }
    details = books_details(list(versions))
    snippets: dict[int, list[dict[str, Any]]] = {}
    newest = (
        Review.objects.filter(book_id__in=list(versions))
        .annotate(
            rank=Window(RowNumber(), partition_by=F("book_id"), order_by=[F("created_at").desc(), F("id").desc()])
        )
        .filter(rank__lte=SNIPPETS)
        .order_by("book_id", "rank")
        .values_list("book_id", "user__username", "rating", "body", "created_at")
    )
    for book_id, username, rating, body, created_at in newest:
        snippets.setdefault(book_id, []).append(
            {
                "reviewer": username,
                "rating": rating,
                "text": body[:SNIPPET_CHARS],
                "date": created_at.date().isoformat(),
            }
        )
    records = {}
    for book_id, row in versions.items():
        if book_id not in details:  # deleted between the two reads
            continue
        cover = {name: row[name] for name in ("cover_image", "cover_url", "cover_source_url", "cover_fetched_at")}
        cover["cover_renditions"] = [CoverRendition.from_json(r).to_json() for r in row["cover_renditions"] or []]
        records[book_id] = HotRecord(
            details=details[book_id],
            category_id=row["category_id"],
            page_cover_url=_page_cover_url(cover),
            reviews=tuple(snippets.get(book_id, ())),
            version=int(row["hot_version"]) + int(row["inventory__hot_version"] or 0),
        )
    return records
