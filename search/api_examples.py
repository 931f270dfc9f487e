"""OpenAPI examples of the search partner API (``search.api``).

They are in the schema, and schemathesis replays them, so each is a real answer's shape.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

SEARCH = OpenApiExample(
    "Two of many results",
    response_only=True,
    value={
        "query": "dune",
        "query_was_cut": False,
        "total": 2,
        "page": 1,
        "num_pages": 1,
        "next_page": None,
        "results": [],
        "facets": [
            {
                "name": "price",
                "label": "Price",
                "values": [{"key": "0-10", "label": "Under $10", "count": 1, "is_selected": False, "depth": 0}],
            }
        ],
        "suggestion": None,
        "backend": "opensearch",
    },
)
AUTOCOMPLETE = OpenApiExample(
    "As you type",
    response_only=True,
    value={
        "query": "dun",
        "titles": [
            {
                "title": "Dune",
                "authors": ["Frank Herbert"],
                "url": "https://shop.example.com/books/9780441013593/dune/",
            }
        ],
        "authors": [],
        "backend": "opensearch",
    },
)
