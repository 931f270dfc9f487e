"""Partner API endpoints for search and autocomplete: the same engine and fallback as the pages.

Thin DRF views over ``search.engine.search_books`` and ``search.engine.autocomplete``:
OpenSearch when it is up, the Postgres fallback when the circuit breaker says so — the
answer says which (``backend``), and has the same shape either way. The API is stricter
than the results page: where the page quietly drops an unknown facet value (a shopper's
stale link), a partner gets 400 naming the parameter, so an integration bug shows at once.

Books in results are the same cards as ``GET /api/v1/books/`` (``BookSerializer``), built
from the engine's already-loaded books without another query. Results page by number up
to ``SEARCH_MAX_PAGE`` (relevance order has no key to continue from).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from catalog.selectors.cards import absolute_url, cards_of_books
from catalog.selectors.categories import category_index
from catalog.serializers import BookSerializer, QuerySerializer
from cloudshelf.api.caching import public
from search import api_examples as examples
from search import engine
from search.params import PRICE_RANGES, SEARCH_SORTS, SearchFilters, SearchPageOutOfRange

TAG_SEARCH = "Search"
MAX_QUERY_LENGTH = 1000  # longer is refused; up to this, the engine cuts at SEARCH_MAX_QUERY_LENGTH and says so


# --- Input ---------------------------------------------------------------------------------


class SearchQuerySerializer(QuerySerializer):
    q = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_QUERY_LENGTH, trim_whitespace=False
    )
    category = serializers.CharField(
        required=False, max_length=400, help_text="A category `path` (from /api/v1/categories/); its subtree matches."
    )
    author = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=10, help_text="Author names (OR)."
    )
    price = serializers.ListField(
        child=serializers.ChoiceField(choices=[price_range.key for price_range in PRICE_RANGES]),
        required=False,
        max_length=len(PRICE_RANGES),
        help_text="Price range keys (OR).",
    )
    rating = serializers.ChoiceField(choices=[1, 2, 3, 4], required=False, help_text="Minimum average rating.")
    in_stock = serializers.BooleanField(required=False, help_text="true: only books in stock.")
    language = serializers.ListField(
        child=serializers.RegexField(r"^[a-z]{2,3}$", max_length=3), required=False, max_length=10
    )
    decade = serializers.ListField(
        child=serializers.IntegerField(min_value=1000, max_value=2990), required=False, max_length=10
    )
    sort = serializers.ChoiceField(choices=list(SEARCH_SORTS), default="relevance")
    page = serializers.IntegerField(min_value=1, max_value=settings.SEARCH_MAX_PAGE, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=engine.MAX_PAGE_SIZE, default=settings.SEARCH_PAGE_SIZE)

    def validate_category(self, value: str) -> str:
        if value not in category_index().by_path:
            raise serializers.ValidationError("There is no category with this path.")
        return value

    def validate_decade(self, value: list[int]) -> list[int]:
        if any(decade % 10 for decade in value):
            raise serializers.ValidationError("A decade is a year ending in 0, e.g. 1990.")
        return value

    def filters(self) -> SearchFilters:
        data = self.validated_data
        return SearchFilters(
            category=data.get("category"),
            authors=tuple(dict.fromkeys(data.get("author", []))),
            prices=tuple(dict.fromkeys(data.get("price", []))),
            min_rating=data.get("rating"),
            in_stock=data.get("in_stock", False),
            languages=tuple(dict.fromkeys(data.get("language", []))),
            decades=tuple(sorted(set(data.get("decade", [])), reverse=True)),
        )


class AutocompleteQuerySerializer(QuerySerializer):
    q = serializers.CharField(allow_blank=True, max_length=200, trim_whitespace=False, help_text="What was typed.")
    limit = serializers.IntegerField(min_value=1, max_value=20, default=6)


# --- Output --------------------------------------------------------------------------------


class FacetValueSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Pass back as the facet's parameter value.")
    label = serializers.CharField()
    count = serializers.IntegerField()
    is_selected = serializers.BooleanField()
    depth = serializers.IntegerField(help_text="Categories: 0 for a root, 1 for its children …")


class FacetSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Also the query parameter that filters by it.")
    label = serializers.CharField()
    values = FacetValueSerializer(many=True)
    approximate = serializers.BooleanField(
        help_text="True when the counts are estimates from a sample of the best matches (a search matching many books)."
    )


class SearchHitSerializer(serializers.Serializer):
    book = BookSerializer()
    title_html = serializers.CharField(help_text="The title, HTML-escaped, matches in `<mark>`.")
    snippet_html = serializers.CharField(help_text="A piece of the description around a match, as `title_html`.")


class SearchResponseSerializer(serializers.Serializer):
    query = serializers.CharField(help_text="The query as searched (cleaned, possibly cut).")
    query_was_cut = serializers.BooleanField()
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    num_pages = serializers.IntegerField()
    next_page = serializers.IntegerField(allow_null=True)
    results = SearchHitSerializer(many=True)
    facets = FacetSerializer(many=True)
    suggestion = serializers.CharField(allow_null=True, help_text="'Did you mean' when nothing was found.")
    backend = serializers.ChoiceField(choices=["opensearch", "database"], help_text="Who answered.")


class TitleSuggestionSerializer(serializers.Serializer):
    title = serializers.CharField()
    authors = serializers.ListField(child=serializers.CharField())
    url = serializers.URLField()


class AuthorSuggestionSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.URLField()


class AutocompleteResponseSerializer(serializers.Serializer):
    query = serializers.CharField()
    titles = TitleSuggestionSerializer(many=True)
    authors = AuthorSuggestionSerializer(many=True)
    backend = serializers.ChoiceField(choices=["opensearch", "database"])


# --- Views ---------------------------------------------------------------------------------


class SearchView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_SEARCH],
        operation_id="search",
        summary="Search books, with facets",
        description=(
            "Full-text search over titles, authors, descriptions, tags and categories, with typo "
            "tolerance and synonyms. Every facet parameter may repeat (`author=A&author=B`: either). "
            "Facet counts of one facet ignore that facet's own filter, as shoppers expect."
        ),
        parameters=[SearchQuerySerializer],
        responses=SearchResponseSerializer,
        examples=[examples.SEARCH],
    )
    def get(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            result = engine.search_books(
                query=data["q"],
                filters=query.filters(),
                sort=data["sort"],
                page=data["page"],
                page_size=data["page_size"],
            )
        except SearchPageOutOfRange as error:
            raise ValidationError({"page": [str(error)]}) from error
        cards = cards_of_books(result.books)
        body: dict[str, Any] = {
            "query": result.query,
            "query_was_cut": result.query_was_cut,
            "total": result.total,
            "page": result.page.number,
            "num_pages": result.page.num_pages,
            "next_page": result.page.next_number if result.page.has_next else None,
            "results": [
                {"book": card, "title_html": str(hit.title_html), "snippet_html": str(hit.snippet_html)}
                for card, hit in zip(cards, result.hits, strict=True)
            ],
            "facets": result.facets,
            "suggestion": result.suggestion,
            "backend": result.backend,
        }
        return public(Response(SearchResponseSerializer(body).data))


class AutocompleteView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        tags=[TAG_SEARCH],
        operation_id="search_autocomplete",
        summary="Titles and authors for what has been typed",
        description="Nothing is suggested below two letters. Words may be partial (`harr pott`).",
        parameters=[AutocompleteQuerySerializer],
        responses=AutocompleteResponseSerializer,
        examples=[examples.AUTOCOMPLETE],
    )
    def get(self, request: Request) -> Response:
        query = AutocompleteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = engine.autocomplete(prefix=query.validated_data["q"], limit=query.validated_data["limit"])
        body = {
            "query": result.prefix,
            "titles": [
                {"title": title.title, "authors": title.authors, "url": absolute_url(title.url)}
                for title in result.titles
            ],
            "authors": [{"name": author.name, "url": absolute_url(author.url)} for author in result.authors],
            "backend": result.backend,
        }
        return public(Response(AutocompleteResponseSerializer(body).data))
