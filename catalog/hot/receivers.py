"""The hot records follow the catalog: every change that can alter a record queues a sync.

``books_changed`` covers the catalog's services (book and review saves, stock at checkout,
prices, imports, covers fetched), sent after the commit with every id of the change, so a
bulk import queues one task per ``QUEUE_CHUNK`` books, not one per book. Django's model
signals cover what the admin changes without a service: a book deleted, an author renamed
or unlinked, tags edited. Nothing is queued while ``DYNAMODB_TABLE`` is empty.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from catalog.hot.tasks import hot_queue_books
from catalog.models import Author, Book, BookAuthor
from catalog.signals import books_changed


def _queue_on_commit(book_ids: list[int]) -> None:
    if book_ids:
        transaction.on_commit(lambda: hot_queue_books(book_ids=book_ids))


@receiver(books_changed, dispatch_uid="catalog.hot.books_changed")
def queue_changed_books(sender: Any, book_ids: list[int], **kwargs: Any) -> None:
    _queue_on_commit(list(book_ids))


@receiver(post_delete, sender=Book, dispatch_uid="catalog.hot.book_deleted")
def queue_deleted_book(sender: Any, instance: Book, **kwargs: Any) -> None:
    _queue_on_commit([instance.pk])


@receiver(post_save, sender=Author, dispatch_uid="catalog.hot.author_saved")
def queue_books_of_author(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
    if not created:
        _queue_on_commit(list(BookAuthor.objects.filter(author=instance).values_list("book_id", flat=True)))


@receiver(post_delete, sender=BookAuthor, dispatch_uid="catalog.hot.book_author_deleted")
def queue_book_of_removed_author(sender: Any, instance: BookAuthor, **kwargs: Any) -> None:
    _queue_on_commit([instance.book_id])


@receiver(m2m_changed, sender=Book.tags.through, dispatch_uid="catalog.hot.book_tags_changed")
def queue_books_with_changed_tags(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove", "post_clear"}:
        return
    if isinstance(instance, Book):
        _queue_on_commit([instance.pk])
    elif pk_set:
        _queue_on_commit(sorted(pk_set))
