"""Celery tasks of the cart app: the scheduled jobs that settle orders (beat runs them; see docs/cart.md).

Both are safe to run twice, even at the same time: every order is claimed with a conditional
``UPDATE`` before the provider is asked about it.
"""

from __future__ import annotations

from celery import shared_task

from cart import services


@shared_task(name="cart.tasks.orders_reconcile_pending", acks_late=True, ignore_result=True)
def orders_reconcile_pending() -> dict[str, int]:
    """Settle orders whose payment had no answer by asking the provider (``services.orders_reconcile_pending``)."""
    return services.orders_reconcile_pending()


@shared_task(name="cart.tasks.orders_cancel_abandoned", acks_late=True, ignore_result=True)
def orders_cancel_abandoned() -> int:
    """Cancel orders left placed that the provider confirms unpaid (``services.orders_cancel_abandoned``)."""
    return services.orders_cancel_abandoned()
