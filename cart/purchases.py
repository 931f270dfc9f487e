"""What a customer has bought, as the catalog asks it (registered in ``CartConfig.ready``).

The catalog marks a review "Verified purchase" when its writer bought the book here; it
cannot import the cart, so it asks through ``catalog.purchases.register_purchase_lookup``.
"""

from __future__ import annotations

from collections.abc import Collection

from cart.models import Order, OrderLine

# Paid, or paid and since shipped; a cancelled order (even one refunded) is no purchase.
BOUGHT_STATUSES = (Order.Status.PAID, Order.Status.SHIPPED)


def customer_bought_books(user_id: int, book_ids: Collection[int]) -> set[int]:
    """The ids among ``book_ids`` on a paid or shipped order of the customer ``user_id`` (one query)."""
    if not book_ids:
        return set()
    lines = OrderLine.objects.filter(order__user_id=user_id, order__status__in=BOUGHT_STATUSES, book_id__in=book_ids)
    return set(lines.values_list("book_id", flat=True).distinct())
