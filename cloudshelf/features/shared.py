"""What every process must agree on, read from the durable Redis at most once a second.

Two keys, one ``get_many``: the published admin flags (``features_publish`` writes them
on every change) and the time until which some process has asked everyone to shed load.
Each process keeps what it read for ``FEATURE_CHECK_SECONDS``, so most requests make no
network call at all. When Redis cannot be read (or lost its data) a process keeps what it
last read (one that never read the flags has every feature on), and no process learns of
a new overload elsewhere — the site loses its switches, never its pages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

# The durable Redis: never evicted, so a published "off" cannot silently turn back on.
CACHE_ALIAS = "durable"
FLAGS_KEY = "features:flags"
SHEDDING_KEY = "features:shedding-until"


@dataclass(frozen=True)
class Snapshot:
    """The shared state as one process last read it."""

    flags: dict[str, bool] = field(default_factory=dict)  # only features an admin has a row for
    shedding_until: float = 0.0  # epoch seconds; 0: nobody asked
    read_at: float = float("-inf")


class SharedState:
    """This process's copy of the shared keys, read again once it is ``FEATURE_CHECK_SECONDS`` old."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._snapshot = Snapshot()
        self._lock = threading.Lock()

    def current(self) -> Snapshot:
        snapshot = self._snapshot
        if self.clock() - snapshot.read_at < settings.FEATURE_CHECK_SECONDS:
            return snapshot
        with self._lock:  # one thread reads; the others wait the millisecond rather than read too
            if self.clock() - self._snapshot.read_at >= settings.FEATURE_CHECK_SECONDS:
                self._snapshot = self._read()
            return self._snapshot

    def forget(self) -> None:
        """Drop this copy: the next question reads again, with nothing to fall back on (tests, reset)."""
        self._snapshot = Snapshot()

    def expire(self, *, flags: dict[str, bool] | None = None) -> None:
        """Read again on the next question, keeping this copy should that read fail.

        ``flags``: what this process has just published itself, kept instead of the flags read last.
        """
        kept = self._snapshot if flags is None else replace(self._snapshot, flags=dict(flags))
        self._snapshot = replace(kept, read_at=float("-inf"))

    def _read(self) -> Snapshot:
        try:
            values: dict[str, Any] = caches[CACHE_ALIAS].get_many([FLAGS_KEY, SHEDDING_KEY])
        except Exception:
            logger.warning("features: shared state unreadable; keeping the last copy", exc_info=True)
            values = {}
        flags = values.get(FLAGS_KEY)
        until = values.get(SHEDDING_KEY)
        # A key missing is Redis away (the cache answers a miss) or its data lost: the flags did not
        # change in Postgres, nor did the end of a shedding: keep what was read last, rather than
        # switch an "off" back on or stop shedding early. (An expired shedding key ended in the past.)
        if not isinstance(flags, dict):
            flags = self._snapshot.flags
        return Snapshot(
            flags={str(k): bool(v) for k, v in flags.items()},
            shedding_until=float(until) if isinstance(until, int | float) else self._snapshot.shedding_until,
            read_at=self.clock(),
        )


shared_state = SharedState()
