"""The hot records follow the catalog: every change that can alter a record queues a sync.

Which changes those are is ``catalog.book_copies``'s list, shared with the search index:
the catalog's services (``books_changed``, sent after the commit with every id of the
change, so a bulk import queues one task per ``HOT_SYNC_CHUNK`` books, not one per book)
and what the admin changes without a service (a book deleted, an author renamed or
unlinked, tags edited, a tag renamed or deleted). Nothing is queued while
``DYNAMODB_TABLE`` is empty.
"""

from __future__ import annotations

from catalog.book_copies import follow_book_changes
from catalog.hot.tasks import hot_queue_books


def _queue(book_ids: list[int]) -> None:
    hot_queue_books(book_ids=book_ids)


follow_book_changes(_queue, name="catalog.hot")
