"""Celery workers say they are alive: a key with a TTL on the durable Redis, refreshed often.

A worker that exited (killed, or stopped by an unrecoverable broker error) stops
refreshing its key, which then expires. Readiness (``cloudshelf.health``) reads the keys:
book changes waiting for the search index while no worker is alive is "index sync
stalled". The keys live on the durable Redis, beside the broker the workers consume
from, and are namespaced by ``CACHE_KEY_PREFIX`` so two stacks sharing a Redis never
count each other's workers.

``WorkerHeartbeat`` is the worker bootstep (registered in ``cloudshelf.celery``) that
beats every ``WORKER_HEARTBEAT_SECONDS`` from the worker's timer thread, so a long task
does not silence it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from celery import bootsteps
from django.conf import settings

logger = logging.getLogger(__name__)


def _key_prefix() -> str:
    return f"{getattr(settings, 'CACHE_KEY_PREFIX', 'cs')}:worker-heartbeat:"


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("durable")


def worker_heartbeat_beat(*, hostname: str) -> None:
    """Record that worker ``hostname`` is alive for the next ``WORKER_HEARTBEAT_TTL_SECONDS``."""
    payload = json.dumps({"hostname": hostname, "pid": os.getpid(), "at": time.time()})
    _redis().set(_key_prefix() + hostname, payload, ex=settings.WORKER_HEARTBEAT_TTL_SECONDS)


def worker_heartbeat_stop(*, hostname: str) -> None:
    """Forget worker ``hostname`` at once (a clean shutdown), rather than when its key expires."""
    _redis().delete(_key_prefix() + hostname)


def workers_alive() -> list[str]:
    """Hostnames of the workers whose heartbeat has not expired. Raises when Redis is unreachable."""
    prefix = _key_prefix()
    return sorted(key.decode()[len(prefix) :] for key in _redis().scan_iter(match=prefix + "*", count=500))


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Beat at start, then every ``WORKER_HEARTBEAT_SECONDS``; forget the worker on a clean stop."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.timer_ref: Any = None

    def start(self, worker: Any) -> None:
        self._beat(worker)
        self.timer_ref = worker.timer.call_repeatedly(settings.WORKER_HEARTBEAT_SECONDS, self._beat, (worker,))

    def stop(self, worker: Any) -> None:
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None
        try:
            worker_heartbeat_stop(hostname=worker.hostname)
        except Exception:  # the key expires on its own
            logger.warning("worker heartbeat: could not remove the key of %s", worker.hostname, exc_info=True)

    def _beat(self, worker: Any) -> None:
        # Never raise into the timer: a Redis outage must not stop the beats that follow it.
        try:
            worker_heartbeat_beat(hostname=worker.hostname)
        except Exception:
            logger.warning("worker heartbeat: Redis unreachable, will retry", exc_info=True)
