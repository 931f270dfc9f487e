"""Project-wide periodic jobs, sent by Celery beat (``CELERY_BEAT_SCHEDULE`` in settings)."""

from __future__ import annotations

from importlib import import_module

from celery import shared_task
from django.conf import settings


def sessions_clear_expired_now() -> None:
    """Delete expired sessions from the session store, as ``manage.py clearsessions`` does.

    The same call the command makes (the engine's ``SessionStore.clear_expired``), so the
    cached_db engine's Postgres rows go; its Redis copies expire on their own TTL.
    """
    engine = import_module(settings.SESSION_ENGINE)
    engine.SessionStore.clear_expired()


@shared_task(name="cloudshelf.tasks.sessions_clear_expired", acks_late=True, ignore_result=True)
def sessions_clear_expired() -> None:
    """Daily: expired sessions out of the database (idempotent: a second run finds none)."""
    sessions_clear_expired_now()
