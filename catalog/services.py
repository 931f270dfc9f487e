"""Writes to the catalog. Pages, the admin, management commands and tasks all call these.

Every function is keyword-only, runs in a transaction, and announces what changed through
``catalog.signals.books_changed`` *after* the commit, so listeners (the search index,
analytics) never see a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, F, Prefetch, Sum
from django.utils import timezone
from django.utils.text import slugify

from catalog.importing import BookRecord, RowError, author_slug
from catalog.models import Author, Book, BookAuthor, Category, Inventory, Review
from catalog.purchases import purchased_book_ids
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

    Safe to submit twice (a double click, a resent form): the same review again returns the
    one already published. A different second review by the same customer is refused with
    ``CatalogError`` (they edit the first one instead). The book row is locked before the
    check, so two submissions racing each other are serialized: the second one sees the
    first, never the unique constraint (which stays as the last line of defence).
    """
    rating, title, body = _clean_review_fields(rating=rating, title=title, body=body)
    with transaction.atomic():
        # The same row book_refresh_rating locks below, taken first: one lock order, no deadlock.
        if not list(Book.objects.select_for_update().filter(pk=book.pk).values_list("pk", flat=True)):
            raise CatalogError("This book is no longer in the catalog.")
        existing = Review.objects.filter(book=book, user=user).first()
        if existing is not None:
            if (existing.rating, existing.title, existing.body) == (rating, title, body):
                return existing
            raise CatalogError("You have already reviewed this book; edit your review instead.")
        verified = bool(purchased_book_ids(user_id=user.pk, book_ids=[book.pk]))
        review = Review.objects.create(
            book=book, user=user, rating=rating, title=title, body=body, verified_purchase=verified
        )
        book_refresh_rating(book_id=book.pk)
    return review


def review_update(*, review: Review, user: User, rating: int, title: str, body: str) -> Review:
    """Edit a review. Only its author may; anyone else gets ``CatalogError`` and nothing changes."""
    if review.user_id != user.pk:
        raise CatalogError("You can only edit your own review.")
    rating, title, body = _clean_review_fields(rating=rating, title=title, body=body)
    with transaction.atomic():
        review.rating, review.title, review.body = rating, title, body
        # Asked again: the customer may have bought the book since writing the review.
        review.verified_purchase = bool(purchased_book_ids(user_id=user.pk, book_ids=[review.book_id]))
        review.save(update_fields=["rating", "title", "body", "verified_purchase", "updated_at"])
        book_refresh_rating(book_id=review.book_id)
    return review


def reviews_mark_verified(*, user_id: int, book_ids: Iterable[int]) -> int:
    """Mark the customer's reviews of ``book_ids`` as verified purchases (for the app that
    records a sale, once it is paid: a review may come before the payment). Returns the count."""
    ids = sorted(set(book_ids))
    with transaction.atomic():
        reviews = list(Review.objects.filter(user_id=user_id, book_id__in=ids, verified_purchase=False))
        for review in reviews:
            # One save each (an order holds a few books): post_save retires the kept reviews.
            review.verified_purchase = True
            review.save(update_fields=["verified_purchase"])
    return len(reviews)


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


# --- Bulk loads: the set-based rating refresh and the import upsert -------------------------


def books_refresh_ratings(*, book_ids: Iterable[int] | None = None) -> int:
    """Recompute rating figures exactly as ``book_refresh_rating`` does, set-based in the database.

    Used after bulk loads, where a per-book refresh would be the slowest step. This runs one
    ``UPDATE … FROM (aggregate)`` per chunk
    of ids (valid on Postgres and on SQLite 3.33+) and writes only the books whose figures
    change. ``book_ids=None`` means the whole catalog. Returns the number of books changed.
    Announces nothing: a bulk load decides for itself whether per-book events are wanted.
    """
    if book_ids is None:
        chunks: list[list[int] | None] = [None]
    else:
        ids = sorted(set(book_ids))
        size = connection.features.max_query_params or 10_000
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
    changed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for chunk in chunks:
            cursor.execute(_ratings_update_sql(None if chunk is None else len(chunk)), chunk)
            changed += max(cursor.rowcount, 0)
    return changed


def _ratings_update_sql(id_count: int | None) -> str:
    """The UPDATE behind ``books_refresh_ratings``: reviews averaged on top of imported ratings.

    ``* 1.0`` keeps SQLite from integer division; on Postgres it is exact ``numeric`` maths
    and ``ROUND`` rounds half up, as ``_rounded_rating`` does.
    """
    quote = connection.ops.quote_name
    book, review = quote(Book._meta.db_table), quote(Review._meta.db_table)
    where = "" if id_count is None else "WHERE b.id IN ({})".format(", ".join(["%s"] * id_count))
    return f"""
        UPDATE {book}
        SET average_rating = totals.average_rating,
            ratings_count = totals.ratings_count,
            review_count = totals.review_count
        FROM (
            SELECT
                b.id AS book_id,
                COUNT(r.id) AS review_count,
                b.external_ratings_count + COUNT(r.id) AS ratings_count,
                CASE WHEN b.external_ratings_count + COUNT(r.id) = 0 THEN 0
                ELSE ROUND(
                    (b.external_average_rating * b.external_ratings_count + COALESCE(SUM(r.rating), 0)) * 1.0
                    / (b.external_ratings_count + COUNT(r.id)),
                    2
                ) END AS average_rating
            FROM {book} b LEFT JOIN {review} r ON r.book_id = b.id
            {where}
            GROUP BY b.id, b.external_ratings_count, b.external_average_rating
        ) AS totals
        WHERE {book}.id = totals.book_id
          AND ({book}.average_rating <> totals.average_rating
               OR {book}.ratings_count <> totals.ratings_count
               OR {book}.review_count <> totals.review_count)
    """


@dataclass
class BooksUpsertResult:
    """What ``books_upsert`` did: book ids per outcome, and the records the database refused."""

    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def books_upsert(*, records: Sequence[BookRecord]) -> BooksUpsertResult:
    """Create or update books from validated import records, matched by ISBN.

    Built for ``import_books``, a batch (a few hundred records) at a time: existing books,
    authors and categories are looked up once per batch, and each book is written in its
    own savepoint, so a row the database refuses is reported and the rest still load.
    A book whose values already match is not written at all (not even ``updated_at``), so
    importing a file twice changes nothing. Values a record leaves out (``None``) are kept.
    Authors are matched by slug and created when missing, in the record's credit order.
    Imported ratings become the ``external_*`` figures, and the shown rating is recomputed
    on top of the book's reviews. Created and updated books are announced after the commit.
    """
    result = BooksUpsertResult()
    if not records:
        return result
    with transaction.atomic():
        existing = _books_by_isbn([record.isbn13 for record in records])
        author_ids = _author_ids_get_or_create(records)
        category_ids, category_errors = _category_ids_get_or_create(records)
        ratings_changed: list[int] = []
        for record in records:
            if record.category is not None and record.category not in category_ids:
                result.errors.append(RowError(record.line, category_errors[record.category]))
                continue
            category_id = category_ids[record.category] if record.category is not None else None
            book = existing.get(record.isbn13)
            try:
                with transaction.atomic():
                    if book is None:
                        book_id = _book_create_from_record(
                            record=record, author_ids=author_ids, category_id=category_id
                        )
                        outcome, rating_changed = "created", True
                    else:
                        book_id = book.pk
                        outcome, rating_changed = _book_update_from_record(
                            book=book, record=record, author_ids=author_ids, category_id=category_id
                        )
            except DatabaseError as error:
                result.errors.append(RowError(record.line, f"the database refused the row: {_first_line(error)}"))
                continue
            getattr(result, outcome).append(book_id)
            if rating_changed:
                ratings_changed.append(book_id)
        books_refresh_ratings(book_ids=ratings_changed)
        announce_books_changed(result.created + result.updated)
        # Covers are downloaded by Celery after the commit, never inside the import.
        from catalog.tasks import cover_fetch_queue  # not at the top: catalog.tasks imports this module

        cover_fetch_queue(book_ids=result.created + result.updated)
    return result


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return (lines[0] if lines else type(error).__name__)[:300]


def _books_by_isbn(isbns: list[str]) -> dict[str, Book]:
    """Existing books with their authors and stock, locked (in primary-key order) until the batch commits."""
    books: dict[str, Book] = {}
    authors = Prefetch("book_authors", queryset=BookAuthor.objects.select_related("author").order_by("position"))
    for start in range(0, len(isbns), 900):
        queryset = (
            Book.objects.select_for_update(of=("self",))
            .filter(isbn13__in=isbns[start : start + 900])
            .select_related("inventory")
            .prefetch_related(authors)
            .order_by("pk")
        )
        books.update((book.isbn13, book) for book in queryset)
    return books


def _author_ids_get_or_create(records: Sequence[BookRecord]) -> dict[str, int]:
    """Author ids by slug for every name in ``records``, creating the missing authors."""
    names_by_slug: dict[str, str] = {}
    for record in records:
        for name in record.authors:
            names_by_slug.setdefault(author_slug(name), name)
    slugs = sorted(names_by_slug)
    ids: dict[str, int] = {}
    for start in range(0, len(slugs), 900):
        ids.update(Author.objects.filter(slug__in=slugs[start : start + 900]).values_list("slug", "pk"))
    missing = [slug for slug in slugs if slug not in ids]
    if missing:
        # ignore_conflicts: another import may create the same author meanwhile; its row is reused.
        Author.objects.bulk_create(
            [Author(name=names_by_slug[slug], slug=slug) for slug in missing], ignore_conflicts=True
        )
        for start in range(0, len(missing), 900):
            ids.update(Author.objects.filter(slug__in=missing[start : start + 900]).values_list("slug", "pk"))
    return ids


def _category_ids_get_or_create(
    records: Sequence[BookRecord],
) -> tuple[dict[tuple[str, ...], int], dict[tuple[str, ...], str]]:
    """Category ids by path (created as needed), and the reason for each path that could not be made.

    Resolved before any book is written, so a book's savepoint never rolls back a category
    that a later book in the batch relies on.
    """
    ids: dict[tuple[str, ...], int] = {}
    errors: dict[tuple[str, ...], str] = {}
    for record in records:
        path = record.category
        if path is None or path in ids or path in errors:
            continue
        try:
            with transaction.atomic():
                ids[path] = category_get_or_create_path(names=list(path)).pk
        except (DatabaseError, CatalogError) as error:
            errors[path] = f"category: cannot be created ({_first_line(error)})"
    return ids, errors


def _book_values_from_record(record: BookRecord) -> dict[str, Any]:
    """The ``Book`` columns a record sets; values it leaves out are not included."""
    values = {
        "title": record.title,
        "price": record.price,
        "subtitle": record.subtitle,
        "description": record.description,
        "currency": record.currency,
        "publication_date": record.publication_date,
        "language": record.language,
        "page_count": record.page_count,
        "publisher": record.publisher,
        "cover_url": record.cover_url,
        "external_average_rating": record.external_average_rating,
        "external_ratings_count": record.external_ratings_count,
    }
    return {name: value for name, value in values.items() if value is not None}


def _book_slug(title: str) -> str:
    return slugify(title)[:320] or "book"


def _book_create_from_record(*, record: BookRecord, author_ids: dict[str, int], category_id: int | None) -> int:
    book = Book.objects.create(
        isbn13=record.isbn13, slug=_book_slug(record.title), category_id=category_id, **_book_values_from_record(record)
    )
    BookAuthor.objects.bulk_create(
        [
            BookAuthor(book=book, author_id=author_ids[author_slug(name)], position=position)
            for position, name in enumerate(record.authors)
        ]
    )
    Inventory.objects.create(book=book, stock_on_hand=record.stock or 0)
    return book.pk


def _book_update_from_record(
    *, book: Book, record: BookRecord, author_ids: dict[str, int], category_id: int | None
) -> tuple[Literal["updated", "unchanged"], bool]:
    """Write only what differs; returns ("updated" or "unchanged", whether the imported ratings changed)."""
    wanted = _book_values_from_record(record)
    if category_id is not None:
        wanted["category_id"] = category_id
    changes = {name: value for name, value in wanted.items() if getattr(book, name) != value}
    if "title" in changes and _book_slug(record.title) != book.slug:
        changes["slug"] = _book_slug(record.title)
    slugs = [author_slug(name) for name in record.authors]
    authors_changed = [link.author.slug for link in book.book_authors.all()] != slugs
    stock = record.stock
    stock_changed = stock is not None and stock != book.stock_on_hand
    if not (changes or authors_changed or stock_changed):
        return "unchanged", False
    if authors_changed:
        BookAuthor.objects.filter(book=book).delete()
        BookAuthor.objects.bulk_create(
            [
                BookAuthor(book=book, author_id=author_ids[slug], position=position)
                for position, slug in enumerate(slugs)
            ]
        )
    if stock_changed and stock is not None:
        Inventory.objects.update_or_create(book_id=book.pk, defaults={"stock_on_hand": stock})
    Book.objects.filter(pk=book.pk).update(**changes, updated_at=timezone.now())
    return "updated", bool(changes.keys() & {"external_average_rating", "external_ratings_count"})
