"""Writes to the catalog. Pages, the admin, management commands and tasks all call these.

Every function is keyword-only, runs in a transaction, and announces what changed through
``catalog.signals.books_changed`` *after* the commit, so listeners (the search index,
analytics) never see a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Avg, Count, F, Sum
from django.utils.text import slugify

from catalog.models import Book, Category, Inventory, Review
from catalog.signals import books_changed


class CatalogError(Exception):
    """A catalog write was refused; ``str(error)`` is safe to show to the person who asked."""


def announce_books_changed(book_ids: Iterable[int]) -> None:
    """Send ``books_changed`` once the surrounding transaction commits (at once outside one)."""
    ids = sorted(set(book_ids))
    if ids:
        transaction.on_commit(lambda: books_changed.send(sender=Book, book_ids=ids))


def category_get_or_create_path(*, names: list[str]) -> Category:
    """Return the category at ``names`` (root first), creating any missing level.

    ``["Fiction", "Fantasy"]`` yields the ``fiction/fantasy`` node. Names are matched by
    slug, so "Science Fiction" and "science fiction" are one category.
    """
    cleaned = [" ".join(name.split()) for name in names if name and name.strip()]
    if not cleaned:
        raise CatalogError("A category path needs at least one name.")
    parent: Category | None = None
    with transaction.atomic():
        for name in cleaned:
            slug = slugify(name)[:120] or "category"
            path = f"{parent.path}/{slug}" if parent else slug
            category, _ = Category.objects.get_or_create(
                path=path,
                defaults={
                    "name": name[:120],
                    "slug": slug,
                    "parent": parent,
                    "depth": parent.depth + 1 if parent else 0,
                    "name_path": f"{parent.name_path} > {name}" if parent else name,
                },
            )
            parent = category
    assert parent is not None
    return parent


def category_save(*, category: Category) -> Category:
    """Save a category edited by staff, deriving ``path``/``name_path``/``depth`` from its parent.

    Renaming or moving a node rewrites the derived fields of its whole subtree, so URLs
    and breadcrumbs below it stay consistent. Moving a node under its own descendant
    would make a cycle and is refused.
    """
    parent = category.parent
    ancestor = parent
    while ancestor is not None:
        if category.pk is not None and ancestor.pk == category.pk:
            raise CatalogError("A category cannot be moved under itself or one of its descendants.")
        ancestor = ancestor.parent
    category.slug = category.slug or slugify(category.name)[:120] or "category"
    with transaction.atomic():
        category.path = f"{parent.path}/{category.slug}" if parent else category.slug
        category.name_path = f"{parent.name_path} > {category.name}" if parent else category.name
        category.depth = parent.depth + 1 if parent else 0
        category.save()
        for child in category.children.order_by("pk"):
            category_save(category=child)
    return category


def _rounded_rating(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def book_refresh_rating(*, book_id: int) -> None:
    """Recompute a book's rating figures from its reviews plus its imported ratings.

    Done with one aggregate and one ``UPDATE`` on the locked book row, so two reviews
    saved at once cannot both write a figure computed without the other.
    """
    with transaction.atomic():
        book = (
            Book.objects.select_for_update().only("external_average_rating", "external_ratings_count").get(pk=book_id)
        )
        totals = Review.objects.filter(book_id=book_id).aggregate(count=Count("id"), total=Sum("rating"))
        review_count = totals["count"] or 0
        review_total = Decimal(totals["total"] or 0)
        ratings_count = book.external_ratings_count + review_count
        if ratings_count:
            grand_total = book.external_average_rating * book.external_ratings_count + review_total
            average = _rounded_rating(grand_total / ratings_count)
        else:
            average = Decimal("0")
        Book.objects.filter(pk=book_id).update(
            average_rating=average, ratings_count=ratings_count, review_count=review_count
        )
    announce_books_changed([book_id])


def books_refresh_ratings(*, book_ids: Iterable[int] | None = None) -> int:
    """Recompute rating figures for many books in set-based SQL (used after bulk loads).

    Returns the number of books updated. ``book_ids=None`` means the whole catalog.
    """
    books = Book.objects.all() if book_ids is None else Book.objects.filter(pk__in=list(book_ids))
    updated = 0
    with transaction.atomic():
        review_stats = {
            row["book_id"]: row
            for row in Review.objects.filter(book__in=books)
            .values("book_id")
            .annotate(count=Count("id"), total=Sum("rating"), average=Avg("rating"))
        }
        changed: list[Book] = []
        for book in books.only("id", "external_average_rating", "external_ratings_count").iterator(chunk_size=5000):
            stats = review_stats.get(book.pk)
            review_count = stats["count"] if stats else 0
            review_total = Decimal(stats["total"]) if stats else Decimal("0")
            book.ratings_count = book.external_ratings_count + review_count
            book.review_count = review_count
            book.average_rating = (
                _rounded_rating(
                    (book.external_average_rating * book.external_ratings_count + review_total) / book.ratings_count
                )
                if book.ratings_count
                else Decimal("0")
            )
            changed.append(book)
            if len(changed) >= 5000:
                updated += Book.objects.bulk_update(changed, ["ratings_count", "review_count", "average_rating"])
                changed = []
        if changed:
            updated += Book.objects.bulk_update(changed, ["ratings_count", "review_count", "average_rating"])
    return updated


def _clean_review_fields(*, rating: int, title: str, body: str) -> tuple[int, str, str]:
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise CatalogError("A rating is a whole number of stars from 1 to 5.")
    title = " ".join(title.split())
    body = body.strip()
    if not title:
        raise CatalogError("Give your review a title.")
    if len(title) > 200:
        raise CatalogError("Keep the title under 200 characters.")
    if not body:
        raise CatalogError("Write a few words about the book.")
    if len(body) > 10_000:
        raise CatalogError("Keep the review under 10,000 characters.")
    return rating, title, body


def review_create(*, book: Book, user: User, rating: int, title: str, body: str) -> Review:
    """Publish ``user``'s review of ``book`` and refresh the book's rating.

    Refuses a second review by the same customer (they edit the first one instead); the
    unique constraint backs this up if two submissions race.
    """
    rating, title, body = _clean_review_fields(rating=rating, title=title, body=body)
    with transaction.atomic():
        if Review.objects.filter(book=book, user=user).exists():
            raise CatalogError("You have already reviewed this book; edit your review instead.")
        review = Review.objects.create(book=book, user=user, rating=rating, title=title, body=body)
        book_refresh_rating(book_id=book.pk)
    return review


def review_update(*, review: Review, user: User, rating: int, title: str, body: str) -> Review:
    """Edit a review. Only its author may; anyone else gets ``CatalogError`` and nothing changes."""
    if review.user_id != user.pk:
        raise CatalogError("You can only edit your own review.")
    rating, title, body = _clean_review_fields(rating=rating, title=title, body=body)
    with transaction.atomic():
        review.rating, review.title, review.body = rating, title, body
        review.save(update_fields=["rating", "title", "body", "updated_at"])
        book_refresh_rating(book_id=review.book_id)
    return review


def review_delete(*, review: Review) -> None:
    """Remove a review (staff moderation) and refresh the book's rating."""
    with transaction.atomic():
        book_id = review.book_id
        review.delete()
        book_refresh_rating(book_id=book_id)


def inventory_set_stock(*, book_ids: Iterable[int], stock_on_hand: int) -> int:
    """Set the stock on hand of several books at once (an admin bulk action). Returns the count."""
    if stock_on_hand < 0:
        raise CatalogError("Stock cannot be negative.")
    ids = sorted(set(book_ids))
    with transaction.atomic():
        existing = set(Inventory.objects.filter(book_id__in=ids).values_list("book_id", flat=True))
        Inventory.objects.filter(book_id__in=ids).update(stock_on_hand=stock_on_hand)
        Inventory.objects.bulk_create(
            [Inventory(book_id=book_id, stock_on_hand=stock_on_hand) for book_id in ids if book_id not in existing]
        )
    announce_books_changed(ids)
    return len(ids)


def books_adjust_price(*, book_ids: Iterable[int], percent: Decimal) -> int:
    """Raise (positive ``percent``) or cut (negative) prices, rounded to the cent, in one UPDATE.

    A cut of 100% or more is refused: it would give books away or make prices negative.
    """
    if percent <= Decimal("-100"):
        raise CatalogError("A price cut must be less than 100%.")
    if percent > Decimal("1000"):
        raise CatalogError("A price rise is limited to 1000% at a time.")
    ids = sorted(set(book_ids))
    factor = (Decimal("100") + percent) / Decimal("100")
    with transaction.atomic():
        books = list(Book.objects.select_for_update().filter(pk__in=ids).only("id", "price").order_by("pk"))
        for book in books:
            book.price = (book.price * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        Book.objects.bulk_update(books, ["price"], batch_size=1000)
    announce_books_changed(ids)
    return len(books)


def inventory_adjust_stock(*, book_id: int, delta: int) -> None:
    """Add to (or take from) a book's stock atomically; refuses to go below zero."""
    with transaction.atomic():
        Inventory.objects.get_or_create(book_id=book_id)
        updated = Inventory.objects.filter(book_id=book_id, stock_on_hand__gte=-delta).update(
            stock_on_hand=F("stock_on_hand") + delta
        )
        if not updated:
            raise CatalogError("Not enough stock for that change.")
    announce_books_changed([book_id])
