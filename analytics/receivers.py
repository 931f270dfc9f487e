"""Analytics listens to the other apps' events; they never import analytics.

Each receiver only hands the event to the buffer (one Redis round trip) and never raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.dispatch import receiver

from analytics.events import analytics_currency, record_event, record_order_event
from analytics.services import search_log_enqueue
from cart.signals import OrderLineEvent, checkout_started, item_added, order_placed
from search.signals import search_performed


@receiver(search_performed, dispatch_uid="analytics.record_search")
def record_search(sender: Any, **event: Any) -> None:
    event.pop("signal", None)
    search_log_enqueue(event=event)


@receiver(item_added, dispatch_uid="analytics.record_add_to_cart")
def record_add_to_cart(sender: Any, *, book_id: int, quantity: int, **event: Any) -> None:
    record_event("add_to_cart", book_id=book_id, quantity=quantity)


def _lines(lines: Sequence[OrderLineEvent], currency: str) -> list[tuple[int, int, Decimal]]:
    """Lines as the roll-ups take them; revenue only in the reports' currency (units always count)."""
    is_counted = currency == analytics_currency()
    return [
        (line.book_id, line.quantity, line.unit_price * line.quantity if is_counted else Decimal("0")) for line in lines
    ]


@receiver(checkout_started, dispatch_uid="analytics.record_checkout_started")
def record_checkout_started(sender: Any, *, currency: str, lines: Sequence[OrderLineEvent], **event: Any) -> None:
    record_order_event("checkout_started", lines=_lines(lines, currency))


@receiver(order_placed, dispatch_uid="analytics.record_order_placed")
def record_order_placed(
    sender: Any, *, currency: str, lines: Sequence[OrderLineEvent], paid_at: datetime, **event: Any
) -> None:
    record_order_event("order_placed", lines=_lines(lines, currency), occurred_at=paid_at)
