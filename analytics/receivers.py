"""Analytics listens to the other apps' events; they never import analytics."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from analytics.services import search_log_enqueue
from search.signals import search_performed


@receiver(search_performed, dispatch_uid="analytics.record_search")
def record_search(sender: Any, **event: Any) -> None:
    event.pop("signal", None)
    search_log_enqueue(event=event)
