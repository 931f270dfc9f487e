"""The hot records follow the catalog: every change that can alter a record queues a sync.

Which changes those are is ``catalog.book_copies``'s list, shared with the search index:
the catalog's services (``books_changed``, sent after the commit with every id of the
change, so a bulk import queues one task per ``HOT_SYNC_CHUNK`` books, not one per book)
and what the admin changes without a service (a book deleted, an author renamed or
unlinked, tags edited, a tag renamed or deleted), whose books' versions are raised in the
edit's transaction. Nothing is queued while ``DYNAMODB_TABLE`` is empty.
"""

from __future__ import annotations

from django.db.models import F

from catalog.book_copies import follow_book_changes
from catalog.hot.tasks import hot_queue_books
from catalog.models import Book


def _queue(book_ids: list[int]) -> None:
    hot_queue_books(book_ids=book_ids)


def _raise_versions(book_ids: list[int]) -> None:
    # Edits that leave the book row alone (authors, tags) would keep the record's version, and a
    # sync that read the book before them could then write over the newer record at an equal
    # version. Raised inside the edit's transaction, like the triggers' (which also fire here).
    Book.objects.filter(pk__in=book_ids).update(hot_version=F("hot_version") + 1)


follow_book_changes(_queue, name="catalog.hot", touch=_raise_versions)
