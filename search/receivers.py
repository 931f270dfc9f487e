"""Search listens to the catalog: every change that can alter a book's document queues it.

``books_changed`` covers the catalog's services (book and review saves, stock, prices,
imports). Django's model signals cover what the admin changes without a service: a book
deleted, an author renamed or deleted, a category renamed or moved, tags edited. Each
receiver only queues ids after the commit (``search_queue_books`` never raises); synonym
edits only clear the cached synonym map.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from catalog.models import Author, Book, BookAuthor, Category
from catalog.signals import books_changed
from search import synonyms
from search.models import Synonym
from search.services import search_queue_books


def _queue_on_commit(book_ids: list[int]) -> None:
    if book_ids:
        transaction.on_commit(lambda: search_queue_books(book_ids=book_ids))


@receiver(books_changed, dispatch_uid="search.books_changed")
def queue_changed_books(sender: Any, book_ids: list[int], **kwargs: Any) -> None:
    _queue_on_commit(list(book_ids))


@receiver(post_delete, sender=Book, dispatch_uid="search.book_deleted")
def queue_deleted_book(sender: Any, instance: Book, **kwargs: Any) -> None:
    _queue_on_commit([instance.pk])


@receiver(post_save, sender=Author, dispatch_uid="search.author_saved")
def queue_books_of_author(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
    if not created:
        _queue_on_commit(list(BookAuthor.objects.filter(author=instance).values_list("book_id", flat=True)))


@receiver(post_delete, sender=BookAuthor, dispatch_uid="search.book_author_deleted")
def queue_book_of_removed_author(sender: Any, instance: BookAuthor, **kwargs: Any) -> None:
    _queue_on_commit([instance.book_id])


@receiver(post_save, sender=Category, dispatch_uid="search.category_saved")
def queue_books_of_category(sender: Any, instance: Category, created: bool, **kwargs: Any) -> None:
    # The catalog clears its category index itself (``catalog.page_tags``).
    if not created:
        _queue_on_commit(list(Book.objects.filter(category=instance).values_list("pk", flat=True)))


@receiver(m2m_changed, sender=Book.tags.through, dispatch_uid="search.book_tags_changed")
def queue_books_with_changed_tags(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if isinstance(instance, Book):
        _queue_on_commit([instance.pk])
    elif pk_set:
        _queue_on_commit(sorted(pk_set))


@receiver(post_save, sender=Synonym, dispatch_uid="search.synonym_saved")
@receiver(post_delete, sender=Synonym, dispatch_uid="search.synonym_deleted")
def forget_synonym_map(sender: Any, **kwargs: Any) -> None:
    # Now for this process, and again after the commit: another process may reload the
    # old map in between, and must not keep it for a whole cache lifetime.
    synonyms.synonyms_changed()
    transaction.on_commit(synonyms.synonyms_changed)
