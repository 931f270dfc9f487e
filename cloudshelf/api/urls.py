"""``/api/``: version 1 of the partner API, its OpenAPI schema and its documentation.

Each app's endpoints are listed here under ``/api/v1/``; a breaking change would get a
``v2`` list beside this one while ``v1`` keeps answering.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from cart import api as cart_api
from catalog import api as catalog_api
from cloudshelf.api.errors import error_response
from search import api as search_api

app_name = "api"

v1 = [
    path("books/", catalog_api.BookListView.as_view(), name="book-list"),
    path("books/availability/", catalog_api.AvailabilityView.as_view(), name="book-availability"),
    path("books/isbn/<str:isbn13>/", catalog_api.BookByIsbnView.as_view(), name="book-by-isbn"),
    path("books/<int:book_id>/", catalog_api.BookDetailView.as_view(), name="book-detail"),
    path("books/<int:book_id>/reviews/", catalog_api.BookReviewListView.as_view(), name="book-reviews"),
    path("authors/", catalog_api.AuthorListView.as_view(), name="author-list"),
    path("authors/<int:author_id>/", catalog_api.AuthorDetailView.as_view(), name="author-detail"),
    path("categories/", catalog_api.CategoryTreeView.as_view(), name="category-tree"),
    path("search/", search_api.SearchView.as_view(), name="search"),
    path("search/autocomplete/", search_api.AutocompleteView.as_view(), name="search-autocomplete"),
    path("carts/", cart_api.CartCreateView.as_view(), name="cart-create"),
    path("carts/<uuid:cart_id>/", cart_api.CartDetailView.as_view(), name="cart-detail"),
    path("carts/<uuid:cart_id>/lines/", cart_api.CartLineAddView.as_view(), name="cart-lines"),
    path("carts/<uuid:cart_id>/lines/<int:book_id>/", cart_api.CartLineView.as_view(), name="cart-line"),
    path("carts/<uuid:cart_id>/order/", cart_api.CartOrderView.as_view(), name="cart-order"),
    path("orders/", cart_api.OrderListView.as_view(), name="order-list"),
    path("orders/<int:order_id>/", cart_api.OrderDetailView.as_view(), name="order-detail"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]


@csrf_exempt  # like every DRF view: no cookies are read, and a POST must get this 404, not a CSRF 403
def no_such_endpoint(request: HttpRequest) -> HttpResponse:
    """Any other URL under /api/, by any method: a JSON 404 here, rather than the site's HTML page."""
    return error_response(404, "not_found", "There is no API endpoint at this URL.")


urlpatterns = [
    path("v1/", include(v1)),
    # The split view serves Swagger UI's start-up script as a file (?script=): the
    # Content-Security-Policy allows no inline script (cloudshelf.security).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    re_path(r"^", no_such_endpoint),  # last: matches whatever is left, newlines included
]
