"""Search listens to the catalog: every change that can alter a book's document queues it.

``catalog.book_copies`` names the changes a book's copy follows (the catalog's services'
``books_changed``; a book deleted, an author renamed or unlinked, tags edited, a tag renamed
or deleted in the admin); a category renamed or moved is search's own (documents hold
category names). Ids are only queued after the commit (``search_queue_books`` never
raises); synonym edits only clear the cached synonym map.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from catalog.book_copies import follow_book_changes
from catalog.models import Book, Category
from search import synonyms
from search.models import Synonym
from search.services import search_queue_books


def _queue(book_ids: list[int]) -> None:
    search_queue_books(book_ids=book_ids)


# Book edits, deletes, authors and tags: the list shared with the hot records.
follow_book_changes(_queue, name="search")


def _queue_on_commit(book_ids: list[int]) -> None:
    if book_ids:
        transaction.on_commit(lambda: search_queue_books(book_ids=book_ids))


@receiver(post_save, sender=Category, dispatch_uid="search.category_saved")
def queue_books_of_category(sender: Any, instance: Category, created: bool, **kwargs: Any) -> None:
    # The catalog clears its category index itself (``catalog.page_tags``).
    if not created:
        _queue_on_commit(list(Book.objects.filter(category=instance).values_list("pk", flat=True)))


@receiver(post_save, sender=Synonym, dispatch_uid="search.synonym_saved")
@receiver(post_delete, sender=Synonym, dispatch_uid="search.synonym_deleted")
def forget_synonym_map(sender: Any, **kwargs: Any) -> None:
    # Now for this process, and again after the commit: another process may reload the
    # old map in between, and must not keep it for a whole cache lifetime.
    synonyms.synonyms_changed()
    transaction.on_commit(synonyms.synonyms_changed)
