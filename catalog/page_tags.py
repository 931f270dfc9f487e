"""What catalog pages depend on, and which kept pages a catalog change retires.

Pages record tags while they render (``cloudshelf.edge.page_cache.page_depends_on``):
every book card and book page its ``book:<id>``, each listing its ``listing:…`` tag,
every page the site navigation (``site``). After a change commits, the receivers below
name the tags it touches and ``pages_changed`` retires exactly the pages that carry them:

* ``books_changed`` (prices, stock, ratings, reviews, imports, admin edits): each book,
  and the listings of its categories (with their ancestors) and authors, whose order
  or membership may have moved;
* a book created or deleted: also the all-books listing and the home page;
* an author renamed, a book's author removed, tags edited: the books (and author page);
* a review saved or deleted: the book's reviews (a kept fragment of its page; the book
  itself through ``books_changed``, as its rating moves);
* a category saved or deleted: every page (the navigation and breadcrumbs show it), once
  the category index (``catalog.selectors.categories``) is cleared.

A listing's *order* moving because a price or rating changed (``/books/?sort=price``
elsewhere than in the book's categories) shows within ``PAGE_CACHE_SECONDS``; what each
card shows is always current, through its book's tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from catalog.models import Author, Book, BookAuthor, Category, Review
from catalog.selectors.categories import category_index_clear
from catalog.signals import books_changed
from cloudshelf.edge.page_cache import SITE_TAG, pages_changed

ALL_BOOKS_TAG = "listing:all"


def book_tag(book_id: int) -> str:
    return f"book:{book_id}"


def reviews_tag(book_id: int) -> str:
    """A book's reviews as its page lists them."""
    return f"reviews:{book_id}"


def category_books_tag(category_id: int) -> str:
    """The listing of a category's books (its subcategories' included)."""
    return f"listing:category:{category_id}"


def author_books_tag(author_id: int) -> str:
    return f"listing:author:{author_id}"


def tags_of_books(book_ids: Iterable[int]) -> set[str]:
    """The books' own tags and those of the listings they appear in (two or three queries)."""
    ids = sorted(set(book_ids))
    if not ids:
        return set()
    tags = {book_tag(book_id) for book_id in ids}
    paths = set(Book.objects.filter(pk__in=ids, category__isnull=False).values_list("category__path", flat=True))
    # "fiction/fantasy/epic" is listed on its own page and on "fiction/fantasy" and "fiction".
    prefixes = {"/".join(path.split("/")[:depth]) for path in paths for depth in range(1, path.count("/") + 2)}
    if prefixes:
        category_ids = Category.objects.filter(path__in=prefixes).values_list("pk", flat=True)
        tags |= {category_books_tag(category_id) for category_id in category_ids}
    author_ids = BookAuthor.objects.filter(book_id__in=ids).values_list("author_id", flat=True).distinct()
    tags |= {author_books_tag(author_id) for author_id in author_ids}
    return tags


def retire_pages_on_commit(tags: Iterable[str]) -> None:
    """Retire the pages carrying ``tags`` once the current transaction commits (at once outside one)."""
    tags = set(tags)
    if tags:
        transaction.on_commit(lambda: pages_changed(tags))


@receiver(books_changed, dispatch_uid="catalog.pages.books_changed")
def retire_pages_of_changed_books(sender: Any, book_ids: Iterable[int], **kwargs: Any) -> None:
    # Sent after the commit already; the queries read what was committed.
    pages_changed(tags_of_books(book_ids))


@receiver(post_save, sender=Book, dispatch_uid="catalog.pages.book_saved")
def retire_listings_of_new_book(sender: Any, instance: Book, created: bool, **kwargs: Any) -> None:
    # Changes to a book go through services, which announce books_changed; a new book
    # also changes which books the all-books listing and the home page hold.
    if created:
        retire_pages_on_commit({ALL_BOOKS_TAG})


@receiver(post_delete, sender=Book, dispatch_uid="catalog.pages.book_deleted")
def retire_pages_of_deleted_book(sender: Any, instance: Book, **kwargs: Any) -> None:
    retire_pages_on_commit({ALL_BOOKS_TAG, book_tag(instance.pk)})


@receiver(post_save, sender=Author, dispatch_uid="catalog.pages.author_saved")
@receiver(post_delete, sender=Author, dispatch_uid="catalog.pages.author_deleted")
def retire_pages_of_author(sender: Any, instance: Author, **kwargs: Any) -> None:
    book_ids = BookAuthor.objects.filter(author_id=instance.pk).values_list("book_id", flat=True)
    retire_pages_on_commit({author_books_tag(instance.pk)} | {book_tag(book_id) for book_id in book_ids})


@receiver(post_delete, sender=BookAuthor, dispatch_uid="catalog.pages.book_author_deleted")
def retire_pages_of_removed_author(sender: Any, instance: BookAuthor, **kwargs: Any) -> None:
    retire_pages_on_commit({book_tag(instance.book_id), author_books_tag(instance.author_id)})


@receiver(post_save, sender=Review, dispatch_uid="catalog.pages.review_saved")
@receiver(post_delete, sender=Review, dispatch_uid="catalog.pages.review_deleted")
def retire_reviews_of_book(sender: Any, instance: Review, **kwargs: Any) -> None:
    retire_pages_on_commit({reviews_tag(instance.book_id)})


@receiver(post_save, sender=Category, dispatch_uid="catalog.pages.category_saved")
@receiver(post_delete, sender=Category, dispatch_uid="catalog.pages.category_deleted")
def retire_every_page(sender: Any, **kwargs: Any) -> None:
    def forget_categories_and_pages() -> None:
        category_index_clear()  # first, so rebuilt pages read the new tree
        pages_changed({SITE_TAG})

    # At once too, so the rest of this request (and of this transaction) reads the new tree;
    # after the commit again, in case another process cached the old one meanwhile.
    category_index_clear()
    transaction.on_commit(forget_categories_and_pages)


@receiver(m2m_changed, sender=Book.tags.through, dispatch_uid="catalog.pages.book_tags_changed")
def retire_pages_of_retagged_books(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if isinstance(instance, Book):
        retire_pages_on_commit({book_tag(instance.pk)})
    elif pk_set:
        retire_pages_on_commit({book_tag(book_id) for book_id in pk_set})
