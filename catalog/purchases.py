"""Whether a customer bought a book: asked by the catalog, answered by the app that sells books.

Reviews are open to every customer (the policy: a reader may have bought the book
elsewhere), but a review from a customer who bought the book here is marked "Verified
purchase". The catalog knows nothing of orders (it imports no other app), so the app that
records sales registers how to look purchases up, from its ``AppConfig.ready``, as the
cart does with ``register_purchase_lookup`` (and with ``catalog.cards.register_card_action``
for its buttons). With nothing registered no review is verified.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

# (customer id, book ids) -> the ids among them the customer has bought and paid for.
PurchaseLookup = Callable[[int, Collection[int]], set[int]]
_purchase_lookups: list[PurchaseLookup] = []


def register_purchase_lookup(lookup: PurchaseLookup) -> None:
    """Tell the catalog how to find a customer's purchases (call once, from an ``AppConfig.ready``)."""
    if lookup not in _purchase_lookups:
        _purchase_lookups.append(lookup)


def purchased_book_ids(*, user_id: int, book_ids: Collection[int]) -> set[int]:
    """The ids among ``book_ids`` that the customer ``user_id`` bought, by any registered lookup."""
    bought: set[int] = set()
    for lookup in _purchase_lookups:
        bought |= lookup(user_id, book_ids)
    return bought & set(book_ids)
