"""Catalog pages: home, browse, authors, books and reviews."""

from __future__ import annotations

from django.urls import path, register_converter

from catalog import views


class Isbn13Converter:
    """Matches the shape of an ISBN-13 in a URL, so ``/books/<anything>/`` never reaches a view."""

    regex = "97[89][0-9]{10}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(Isbn13Converter, "isbn13")

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("books/", views.book_list, name="book-list"),
    path("books/<isbn13:isbn13>/", views.book_by_isbn, name="book-short"),
    path("books/<isbn13:isbn13>/<str:slug>/", views.book_detail, name="book"),
    path("reviews/new/<isbn13:isbn13>/", views.review_create, name="review-create"),
    path("reviews/<int:review_id>/edit/", views.review_edit, name="review-edit"),
    path("categories/<path:path>/", views.category_detail, name="category"),
    path("authors/<slug:slug>/", views.author_detail, name="author"),
]
