"""OpenAPI examples of the catalog's partner API (``catalog.api``).

They are in the schema, and schemathesis replays them, so each is a real answer's shape.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

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


# One book; the schema shows it inside a page (results, next_cursor, next).
BOOK_PAGE = OpenApiExample("A page of books", value=_BOOK_EXAMPLE, response_only=True)
BOOK = OpenApiExample("A book", value=_BOOK_DETAIL_EXAMPLE, response_only=True)
AVAILABILITY = OpenApiExample(
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
AUTHOR_PAGE = OpenApiExample("A page of authors", value=_AUTHOR_EXAMPLE, response_only=True)
AUTHOR = OpenApiExample(
    "An author",
    value=_AUTHOR_EXAMPLE | {"bio": "Writes about glass and orchards.", "book_count": 7},
    response_only=True,
)
CATEGORY_TREE = OpenApiExample(
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
REVIEW_PAGE = OpenApiExample(
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
