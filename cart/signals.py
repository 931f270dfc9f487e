"""Events the cart app announces. Analytics listens; the cart imports no listener.

Every signal is sent after the change it announces is final (the Redis write done, the
transaction committed), with plain values only, so a listener needs nothing else of the cart.
Receivers run on the request path: they must only hand the event off (a Redis list push, a
queued task), never write to the database themselves.

``item_added`` — copies of a book went into a cart (``cart.services.cart_add_item``, for pages
  and partner carts alike): ``book_id``, ``quantity`` (the copies added), ``unit_price``
  (``Decimal``) and ``currency``.
``checkout_started`` — an order was created from a cart and its stock reserved, before payment
  (``cart.services.order_place`` step 1): ``order_id``, ``currency`` and ``lines``.
``order_placed`` — that order's payment went through (paid, whether at once or later by the
  reconciler): ``order_id``, ``currency``, ``lines`` and ``paid_at``.

``lines`` is a tuple of ``OrderLineEvent`` (``book_id``, ``quantity``, ``unit_price``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.dispatch import Signal

item_added = Signal()
checkout_started = Signal()
order_placed = Signal()


@dataclass(frozen=True)
class OrderLineEvent:
    """One line of a checkout or order, as listeners see it."""

    book_id: int
    quantity: int
    unit_price: Decimal
