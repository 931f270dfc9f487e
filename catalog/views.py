"""Customer-facing catalog pages.

Views are thin: parse the request, call a selector (reads) or one service (writes),
render or redirect. Every page passes its SEO fields (``page_title``,
``meta_description``, ``canonical_path``) to ``base.html``, which turns them into the
``<title>``, meta description, canonical link and Open Graph tags.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import EmptyPage
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from catalog import services
from catalog.forms import ReviewForm
from catalog.models import Author, Book, Review
from catalog.page_tags import ALL_BOOKS_TAG, author_books_tag, book_tag, category_books_tag
from catalog.selectors import pages
from catalog.selectors.categories import category_branch, category_trail
from catalog.services import CatalogError
from cloudshelf.edge.page_cache import cached_page, page_depends_on
from cloudshelf.features.pages import page_shows

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Longer page numbers cannot be real pages (CATALOG_MAX_PAGE is far smaller); refusing
# them early keeps absurd values like 99999999999999999999 away from the database.
_MAX_PAGE_DIGITS = 7
# A category's path: its slugs and its ancestors' (SlugField characters), joined by "/".
_CATEGORY_PATH = re.compile(r"[-\w]+(?:/[-\w]+)*", re.ASCII)


def page_number_or_404(request: HttpRequest, parameter: str = "page") -> int:
    """The 1-based page number in the query string; 404 for anything but a positive integer.

    A missing or empty parameter means page 1. ``page=abc``, ``page=-1`` and
    ``page=0`` are 404s rather than silently page 1, so crawlers drop the bad URLs.
    """
    raw = request.GET.get(parameter, "").strip()
    if not raw:
        return 1
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_PAGE_DIGITS or int(raw) < 1:
        raise Http404("No such page.")
    return int(raw)


def _listing_context(
    request: HttpRequest, books: QuerySet[Book], *, path: str, count_cache_key: str | None = None
) -> dict[str, Any]:
    """One page of ``books`` in the requested sort, with its canonical path; 404 past the end."""
    sort = pages.sort_option(request.GET.get("sort"))
    number = page_number_or_404(request)
    try:
        listing = pages.book_page(
            books, sort=sort, number=number, page_size=settings.CATALOG_PAGE_SIZE, count_cache_key=count_cache_key
        )
    except EmptyPage:
        raise Http404("No such page.") from None
    return {
        "listing": listing,
        "sort_options": pages.SORT_OPTIONS.values(),
        "canonical_path": path + listing.query(number),
        # Other orders list the same books again: let crawlers follow them, not index them.
        "robots": "" if sort.key == pages.DEFAULT_SORT else "noindex, follow",
    }


def _page_suffix(listing: pages.BookPage) -> str:
    return f" (page {listing.page.number})" if listing.page.number > 1 else ""


@require_safe
@cached_page()
def home(request: HttpRequest) -> HttpResponse:
    """Shelves of new, top-rated and bestselling books from the biggest categories."""
    page_depends_on(request, ALL_BOOKS_TAG)
    return render(
        request,
        "catalog/home.html",
        {
            "shelves": pages.home_shelves(),
            "meta_description": f"Shop new releases, top-rated books and bestsellers at {settings.SITE_NAME}.",
            "canonical_path": reverse("catalog:home"),
        },
    )


@require_safe
@cached_page()
def book_list(request: HttpRequest) -> HttpResponse:
    """Every book in the catalog, sortable and paginated."""
    page_depends_on(request, ALL_BOOKS_TAG)
    path = reverse("catalog:book-list")
    context = _listing_context(request, pages.all_books(), path=path, count_cache_key=pages.ALL_BOOKS_COUNT_KEY)
    context["page_title"] = f"All books{_page_suffix(context['listing'])}"
    context["meta_description"] = f"Browse all {context['listing'].page.total:,} books at {settings.SITE_NAME}."
    return render(request, "catalog/book_list.html", context)


@require_safe
@cached_page()
def category_detail(request: HttpRequest, path: str) -> HttpResponse:
    """A category's books, including those of its subcategories."""
    # Only slugs joined by "/" can name a category; anything else (a NUL byte, which
    # Postgres refuses in a text parameter) is a 404 without a query.
    branch = category_branch(path) if _CATEGORY_PATH.fullmatch(path) else None
    if branch is None:
        raise Http404("No such category.")
    page_depends_on(request, category_books_tag(branch.category.pk))
    books = pages.category_books(branch)
    context = _listing_context(
        request, books, path=branch.category.get_absolute_url(), count_cache_key=branch.book_count_cache_key
    )
    context |= {
        "branch": branch,
        "nav_section": branch.trail[0].path,
        "page_title": f"{branch.category.name} books{_page_suffix(context['listing'])}",
        "meta_description": branch.category.description
        or f"Shop {context['listing'].page.total:,} {branch.category.name} books at {settings.SITE_NAME}.",
    }
    return render(request, "catalog/category_detail.html", context)


@require_safe
@cached_page()
def author_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """An author's biography and books."""
    author = get_object_or_404(Author, slug=slug)
    page_depends_on(request, author_books_tag(author.pk))
    context = _listing_context(request, pages.author_books(author), path=author.get_absolute_url())
    context |= {
        "author": author,
        "page_title": f"{author.name}{_page_suffix(context['listing'])}",
        "meta_description": author.bio or f"Books by {author.name} at {settings.SITE_NAME}.",
        "og_type": "profile",
    }
    return render(request, "catalog/author_detail.html", context)


@require_safe
def book_by_isbn(request: HttpRequest, isbn13: str) -> HttpResponse:
    """``/books/<isbn13>/`` is a short link: send it to the book's canonical URL."""
    book = get_object_or_404(Book.objects.only("isbn13", "slug"), isbn13=isbn13)
    return redirect(book, permanent=True)


def _verified_only_or_404(request: HttpRequest) -> bool:
    """Whether ``?reviews=verified`` asks for verified purchases only; 404 for any other value."""
    shown = request.GET.get("reviews", "")
    if shown not in ("", "verified"):
        raise Http404("No such choice of reviews.")
    return shown == "verified"


def _reviews_page_or_404(request: HttpRequest, book: Book, *, verified_only: bool) -> pages.PageInfo:
    """Where the page of reviews named by ``?reviews_page=`` sits; 404 for a malformed or missing page.

    Checked against the book's review count (or its count of verified purchases), without
    reading the reviews: the page template reads them (or reuses them, see
    ``shop.book_reviews_list``).
    """
    number = page_number_or_404(request, "reviews_page")
    total = pages.book_verified_review_count(book) if verified_only else book.review_count
    try:
        return pages.PageInfo.build(number=number, page_size=settings.CATALOG_REVIEWS_PAGE_SIZE, total=total)
    except EmptyPage:
        raise Http404("No such page of reviews.") from None


def _book_seo(book: Book, reviews_page: pages.PageInfo | None, *, verified_only: bool) -> dict[str, str]:
    """Title, description and canonical path of a book page (``og:type`` ``book``).

    The verified-purchase filter repeats reviews of the full list: followed, not indexed.
    """
    authors = ", ".join(book.author_names)
    shows_later_page = reviews_page is not None and reviews_page.has_previous and not verified_only
    review_query = f"?reviews_page={reviews_page.number}" if reviews_page and shows_later_page else ""
    return {
        "page_title": f"{book.title} by {authors}" if authors else book.title,
        "meta_description": book.description or f"{book.title}: buy it at {settings.SITE_NAME}.",
        "canonical_path": book.get_absolute_url() + review_query,
        "og_type": "book",
        "robots": "noindex, follow" if verified_only else "",
    }


@require_safe
@cached_page()
def book_detail(request: HttpRequest, isbn13: str, slug: str) -> HttpResponse:
    """A book's page: details, price and stock, reviews and related books.

    A wrong or outdated slug answers 301 to the canonical URL, keeping the query string.
    The review list and the related books are non-essential (``cloudshelf.features``):
    switched off, by staff or by load shedding, they are neither read nor shown.
    """
    book = pages.book_by_isbn(isbn13)
    if book is None:
        raise Http404("No such book.")
    if slug != book.slug:
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        return HttpResponsePermanentRedirect(f"{book.get_absolute_url()}{query}")
    page_depends_on(request, book_tag(book.pk))
    verified_only = _verified_only_or_404(request)
    shows_reviews = page_shows(request, "review_lists")
    reviews_page = _reviews_page_or_404(request, book, verified_only=verified_only) if shows_reviews else None
    trail = category_trail(book.category.path) if book.category else ()
    context = {
        "book": book,
        "trail": trail,
        "nav_section": trail[0].path if trail else "",
        # The reviews and the related books are read by the template, as kept fragments.
        "reviews_page": reviews_page,
        "verified_only": verified_only,
        "shows_reviews": shows_reviews,
        "shows_related": page_shows(request, "recommendations"),
    }
    seo = _book_seo(book, reviews_page, verified_only=verified_only)
    return render(request, "catalog/book_detail.html", context | seo)


class CustomerRequest(HttpRequest):
    """The request a ``login_required`` view receives: ``user`` is a signed-in customer."""

    user: User


def _own_review_or_404(request: CustomerRequest, review_id: int) -> Review:
    """The review ``review_id`` if the signed-in customer wrote it; 404 for anyone else's.

    404 rather than 403 so nobody can probe which review ids exist.
    """
    review = pages.customer_review(review_id=review_id, user=request.user)
    if review is None:
        raise Http404("No such review.")
    return review


def _review_form_context(form: ReviewForm, book: Book, *, title: str) -> dict[str, Any]:
    return {"form": form, "book": book, "page_title": title, "robots": "noindex"}


@login_required
@require_http_methods(["GET", "POST"])
def review_create(request: CustomerRequest, isbn13: str) -> HttpResponse:
    """Write a review; the book page posts here and invalid input comes back to this form."""
    book = get_object_or_404(Book.objects.for_listing(), isbn13=isbn13)
    form = ReviewForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.review_create(book=book, user=request.user, **form.cleaned_data)
        except CatalogError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you! Your review is published.")
            return redirect(f"{book.get_absolute_url()}#reviews")
    return render(request, "catalog/review_form.html", _review_form_context(form, book, title=f"Review {book.title}"))


@login_required
@require_http_methods(["GET", "POST"])
def review_edit(request: CustomerRequest, review_id: int) -> HttpResponse:
    """Edit one's own review; anyone else's review is a 404."""
    review = _own_review_or_404(request, review_id)
    initial = {"rating": review.rating, "title": review.title, "body": review.body}
    form = ReviewForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_valid():
        try:
            services.review_update(review=review, user=request.user, **form.cleaned_data)
        except CatalogError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Your review is updated.")
            return redirect(f"{review.book.get_absolute_url()}#reviews")
    context = _review_form_context(form, review.book, title=f"Edit your review of {review.book.title}")
    return render(request, "catalog/review_form.html", context | {"review": review})
