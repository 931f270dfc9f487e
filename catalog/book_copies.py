"""Which books a catalog change touches, for the stores that keep a copy of each book.

The search index and the hot records (``catalog.hot``) both copy what a book shows (its
authors' names, its tags' names, price, stock, rating), so both must hear of every change
to it. ``follow_book_changes`` connects one such store, so the list of changes lives here
once: ``books_changed`` (the catalog's services: book and review saves, stock, prices,
imports, covers), and what the admin changes without a service: a book deleted, an author
renamed or unlinked, a book's tags edited, a tag renamed or deleted, a stock row deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from catalog.models import Author, Book, BookAuthor, Inventory, Tag
from catalog.signals import books_changed


def follow_book_changes(
    queue: Callable[[list[int]], None],
    *,
    name: str,
    touch: Callable[[list[int]], None] | None = None,
) -> None:
    """Call ``queue(book_ids)`` after the commit of every change that can alter a book's copy.

    ``queue`` must not raise (the change is saved already). ``touch``, if given, is called at
    once, inside the writing transaction, for the changes that leave the book row alone (an
    author renamed or unlinked, tags edited, a tag renamed or deleted): a store that versions
    its copies by the row can raise the version there. ``name`` keeps each store's receivers
    apart (their ``dispatch_uid``s), so connecting twice connects once.
    """

    def queue_on_commit(book_ids: list[int]) -> None:
        if book_ids:
            transaction.on_commit(lambda: queue(book_ids))

    def touched(book_ids: list[int]) -> None:
        if book_ids and touch is not None:
            touch(book_ids)
        queue_on_commit(book_ids)

    def changed(sender: Any, book_ids: list[int], **kwargs: Any) -> None:
        queue_on_commit(list(book_ids))

    def book_deleted(sender: Any, instance: Book, **kwargs: Any) -> None:
        queue_on_commit([instance.pk])

    def author_saved(sender: Any, instance: Author, created: bool, **kwargs: Any) -> None:
        if not created:
            touched(list(BookAuthor.objects.filter(author=instance).values_list("book_id", flat=True)))

    def author_unlinked(sender: Any, instance: BookAuthor, **kwargs: Any) -> None:
        touched([instance.book_id])

    def stock_row_deleted(sender: Any, instance: Inventory, **kwargs: Any) -> None:
        queue_on_commit([instance.book_id])  # the book shows no stock now

    def tags_edited(sender: Any, instance: Any, action: str, pk_set: Any, **kwargs: Any) -> None:
        if action not in {"post_add", "post_remove", "post_clear"}:
            return
        if isinstance(instance, Book):
            touched([instance.pk])
        elif pk_set:
            touched(sorted(pk_set))

    def tag_saved(sender: Any, instance: Tag, created: bool, **kwargs: Any) -> None:
        if not created:
            touched(list(Book.objects.filter(tags=instance).values_list("pk", flat=True)))

    def tag_deleted(sender: Any, instance: Tag, **kwargs: Any) -> None:
        # Before the delete: its links go by a cascade that sends no m2m_changed.
        touched(list(Book.objects.filter(tags=instance).values_list("pk", flat=True)))

    books_changed.connect(changed, weak=False, dispatch_uid=f"{name}.books_changed")
    post_delete.connect(book_deleted, sender=Book, weak=False, dispatch_uid=f"{name}.book_deleted")
    post_save.connect(author_saved, sender=Author, weak=False, dispatch_uid=f"{name}.author_saved")
    post_delete.connect(author_unlinked, sender=BookAuthor, weak=False, dispatch_uid=f"{name}.book_author_deleted")
    post_delete.connect(stock_row_deleted, sender=Inventory, weak=False, dispatch_uid=f"{name}.inventory_deleted")
    m2m_changed.connect(tags_edited, sender=Book.tags.through, weak=False, dispatch_uid=f"{name}.book_tags_changed")
    post_save.connect(tag_saved, sender=Tag, weak=False, dispatch_uid=f"{name}.tag_saved")
    pre_delete.connect(tag_deleted, sender=Tag, weak=False, dispatch_uid=f"{name}.tag_deleted")
