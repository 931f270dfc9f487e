"""Automatic load shedding: non-essential features go off while the site is overloaded.

Each process watches its own load on every request (``LoadSheddingMiddleware``):

* **in flight** — requests inside Django right now. gunicorn's gthread worker runs
  ``GUNICORN_THREADS`` at once; when all of them are busy (``LOAD_SHED_MAX_IN_FLIGHT``,
  the same number by default) the next request already waits.
* **queueing time** — nginx stamps ``X-Request-Start: t=<seconds.millis>``; the time
  from there to Django is time spent waiting for a thread. Over
  ``LOAD_SHED_MAX_QUEUE_MS`` means the box is behind. Read only behind a proxy we trust
  (``LOAD_SHED_TRUST_REQUEST_START``), so a client cannot claim a long wait to switch
  features off.

An overloaded process writes "shed until now + ``LOAD_SHED_HOLD_SECONDS``" to the durable
Redis (at most once a second), and every process reads it with the flags
(``cloudshelf.features.shared``), so all of them shed together. The hold is the
hysteresis: features come back only after no process has been overloaded for that long,
so they do not flap on and off with every burst. Each process logs a warning when it
starts and stops shedding; stopping also retires the pages it rendered without the
features (page-cache tag ``SHED_TAG``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from cloudshelf.edge.page_cache import pages_changed
from cloudshelf.features.shared import CACHE_ALIAS, SHEDDING_KEY, SharedState, shared_state

logger = logging.getLogger(__name__)

# Every page rendered with a feature switched off by shedding depends on this tag.
SHED_TAG = "feature:shed"
# A queueing time above this is a clock or header fault, not a queue: ignored.
_MAX_BELIEVABLE_QUEUE_SECONDS = 300.0


def queued_seconds(request: HttpRequest, *, now: float) -> float:
    """How long ``request`` waited between nginx and Django (0 when unknown or not believable).

    ``X-Request-Start`` is ``t=<epoch seconds>`` from nginx's ``$msec`` (``1764729600.123``);
    milliseconds and microseconds (other proxies) are recognised by their size.
    """
    if not settings.LOAD_SHED_TRUST_REQUEST_START:
        return 0.0
    raw = request.headers.get("X-Request-Start", "")
    value = raw.strip().removeprefix("t=")
    if not value or len(value) > 32:
        return 0.0
    try:
        stamp = float(value)
    except ValueError:
        return 0.0
    if not math.isfinite(stamp) or stamp <= 0:
        return 0.0
    if stamp > 1e14:
        stamp /= 1e6
    elif stamp > 1e11:
        stamp /= 1e3
    waited = now - stamp
    return waited if 0.0 < waited < _MAX_BELIEVABLE_QUEUE_SECONDS else 0.0


class LoadMonitor:
    """One process's view of its load and of the fleet's shedding state (``clock``: epoch seconds)."""

    def __init__(self, *, clock: Callable[[], float] = time.time, shared: SharedState = shared_state) -> None:
        self.clock = clock
        self.shared = shared
        self.in_flight = 0
        self._lock = threading.Lock()
        self._overloaded_until = 0.0  # epoch seconds: this process's own last overload + hold
        self._published_at = float("-inf")
        self._was_shedding = False

    def request_started(self, *, queued: float = 0.0) -> None:
        """Count a request in; note an overload when too many are in flight or it queued too long."""
        with self._lock:
            self.in_flight += 1
            in_flight = self.in_flight
        if not settings.LOAD_SHED_ENABLED:
            return  # counted for /health/ready, but no Redis write and no warning every second
        limit = settings.LOAD_SHED_MAX_IN_FLIGHT
        if limit and in_flight >= limit:
            self.note_overload(f"{in_flight} requests in flight (limit {limit})")
        elif queued * 1000 > settings.LOAD_SHED_MAX_QUEUE_MS > 0:
            self.note_overload(f"queued {queued * 1000:.0f} ms (limit {settings.LOAD_SHED_MAX_QUEUE_MS} ms)")

    def request_finished(self) -> None:
        with self._lock:
            self.in_flight = max(self.in_flight - 1, 0)

    def note_overload(self, reason: str) -> None:
        """Shed here at once, and ask every process to (one Redis write per second at most)."""
        now = self.clock()
        until = now + settings.LOAD_SHED_HOLD_SECONDS
        self._overloaded_until = until
        if now - self._published_at < 1.0:
            return
        self._published_at = now
        try:
            caches[CACHE_ALIAS].set(SHEDDING_KEY, until, timeout=math.ceil(settings.LOAD_SHED_HOLD_SECONDS) + 1)
        except Exception:
            logger.warning("load shedding: could not share the overload (%s)", reason, exc_info=True)
        if not self._was_shedding:
            logger.warning("load shedding: overloaded, %s", reason)

    def is_shedding(self) -> bool:
        """Whether non-essential features are off now; logs and acts on each change of state."""
        if not settings.LOAD_SHED_ENABLED:
            return False
        now = self.clock()
        shedding = now < self._overloaded_until or now < self.shared.current().shedding_until
        if self._was_shedding and not shedding:
            # Ending on a copy up to FEATURE_CHECK_SECONDS old: another process may have extended
            # the hold meanwhile. Read again rather than flap off and on.
            self.shared.expire()
            shedding = now < self.shared.current().shedding_until
        if shedding != self._was_shedding:
            self._changed(shedding)
        return shedding

    def _changed(self, shedding: bool) -> None:
        with self._lock:
            if shedding == self._was_shedding:
                return  # another thread got here first
            self._was_shedding = shedding
        if shedding:
            logger.warning("load shedding ON: non-essential features are off (in flight here: %d)", self.in_flight)
        else:
            logger.warning("load shedding OFF: load below the limits for %s s", settings.LOAD_SHED_HOLD_SECONDS)
            # The pages this process kept without the features are retired (they were kept briefly anyway).
            pages_changed([SHED_TAG])

    def reset(self) -> None:
        """Forget every overload (tests, and an operator's ``manage.py shell``)."""
        self.in_flight = 0
        self._overloaded_until = 0.0
        self._published_at = float("-inf")
        self._was_shedding = False
        try:
            caches[CACHE_ALIAS].delete(SHEDDING_KEY)
        except Exception:
            logger.warning("load shedding: could not clear the shared state", exc_info=True)
        self.shared.forget()


monitor = LoadMonitor()
