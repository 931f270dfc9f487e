"""Telling the caches in front of us that pages changed: CloudFront and the local HTTP cache.

* ``invalidate_paths(paths)`` is what the page cache calls on commit of a book change, with
  the exact paths of the pages that show the book. It validates and normalises them, adds
  them to a pending set in Redis and queues ONE debounced Celery task per burst
  (``cloudshelf.edge.tasks.cdn_flush_invalidations``), like ``search.services`` does for
  index syncs: a price import touching 500 books becomes a few calls, not 500.
* ``flush_invalidations()`` (the task's body) sends what gathered:

  - to the local HTTP cache (``HTTP_CACHE_PURGE_URL``, nginx in ``make up``): ``PURGE <path>``
    for each path, 200 and 404 both meaning "not cached any more"; failures are retried a
    few runs later and then dropped with an error in the log (the entry expires at its
    ``s-maxage`` anyway);
  - to CloudFront (``CLOUDFRONT_DISTRIBUTION_ID``): ``create_invalidation`` with at most
    ``CLOUDFRONT_INVALIDATION_BATCH`` paths, at most one call per
    ``CLOUDFRONT_INVALIDATION_INTERVAL`` seconds across all workers (the rest waits for the
    next run), more than ``CLOUDFRONT_MAX_PATHS_PER_RUN`` pending paths collapsed into
    wildcards by prefix (CloudFront bills per path, and ``/books/*`` is one path).

Circuit breaker: calls to CloudFront go through the ``cloudfront`` breaker
(``cloudshelf.breaker``; ``CLOUDFRONT_BREAKER_*``). No answer, a 5xx or throttling counts
against it; once open, a run makes no call at all: the batch in flight and the pending paths
stay where they are (nothing is lost, and a skipped call does not use up a batch's attempts)
and the next run is scheduled after the cool-down.

Idempotency: a batch is written down (with its ``CallerReference``) before it is sent and
crossed out after CloudFront accepted it, so a retry after a timeout or a crashed worker
sends the same batch with the same reference, which CloudFront answers with the
invalidation it already made instead of a second (billed) one. Running the task twice, or
with nothing pending, sends nothing twice.

Without Redis (the embedded default) the pending paths live in this process's memory and
Celery runs the task at once.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings
from django.core.cache import caches

from cloudshelf.breaker import BreakerPolicy, CircuitBreaker, cache_key_prefix

logger = logging.getLogger(__name__)

# Longer paths are refused: no page of ours has one, and CloudFront's own limit is 4,000.
MAX_PATH_LENGTH = 2000
# One call with more paths is refused (a caller bug); a wildcard says it in one path.
MAX_PATHS_PER_CALL = 10_000
# Characters kept as they are; anything else (spaces, non-ASCII, quotes) is percent-encoded,
# as CloudFront requires. "%" is kept so already-encoded paths are not encoded twice.
_SAFE_CHARACTERS = "/?&=*:@!$'()+,;~%-._"
# A failed CloudFront call or PURGE is retried after BASE * 2^(attempt-1) seconds (at most
# MAX, with jitter); after MAX_ATTEMPTS the batch is dropped with an error in the log.
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
MAX_ATTEMPTS = 8
# PURGE goes to a cache on loopback: anything slower than this is a cache in trouble.
PURGE_CONNECT_TIMEOUT = 0.5
PURGE_READ_TIMEOUT = 2.0
# Error codes of create_invalidation that a later retry may get past.
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "TooManyInvalidationsInProgress",
    "ServiceUnavailable",
    "InternalError",
}


# botocore's timeouts of a CloudFront call (``cloudfront_client``).
CLOUDFRONT_CONNECT_TIMEOUT = 3
CLOUDFRONT_READ_TIMEOUT = 15


def cloudfront_breaker_policy() -> BreakerPolicy:
    """``CLOUDFRONT_BREAKER_*`` as a breaker policy; the probe may take a call's whole timeout twice."""
    return BreakerPolicy(
        failures=settings.CLOUDFRONT_BREAKER_FAILURES,
        window=settings.CLOUDFRONT_BREAKER_WINDOW,
        cooldown=settings.CLOUDFRONT_BREAKER_COOLDOWN,
        probe_seconds=(CLOUDFRONT_CONNECT_TIMEOUT + CLOUDFRONT_READ_TIMEOUT) * 2,
        key_prefix=cache_key_prefix(),
    )


cloudfront_breaker = CircuitBreaker(
    "cloudfront",
    policy=cloudfront_breaker_policy,
    description="CloudFront invalidations; while open, changed paths stay pending and are sent after the cool-down.",
)


class InvalidPathError(ValueError):
    """A path given to ``invalidate_paths`` cannot be invalidated (the message says why)."""


# --- Validation -------------------------------------------------------------------------------


def normalise_path(path: object) -> str:
    """``path`` as CloudFront and the local cache want it: absolute, percent-encoded.

    Raises ``TypeError`` for a non-string and ``InvalidPathError`` for a path that is not
    absolute, too long, holds control characters or a fragment, or has a ``*`` anywhere but
    at the end (CloudFront's only wildcard position).
    """
    if not isinstance(path, str):
        raise TypeError(f"a path must be a string, not {type(path).__name__}: {path!r:.80}")
    if not path.startswith("/"):
        raise InvalidPathError(f"a path must start with '/': {path!r:.80}")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidPathError(f"a path may have at most {MAX_PATH_LENGTH} characters, not {len(path)}")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in path):
        raise InvalidPathError(f"a path may not contain control characters: {path!r:.80}")
    if "#" in path:
        raise InvalidPathError(f"a path may not contain a fragment ('#'), caches never see one: {path!r:.80}")
    if "*" in path[:-1]:
        raise InvalidPathError(f"'*' is allowed only at the end of a path: {path!r:.80}")
    return quote(path, safe=_SAFE_CHARACTERS)


def invalidate_paths(paths: Iterable[str]) -> None:
    """Have CloudFront and the local HTTP cache forget ``paths`` soon (one task per burst).

    Called on commit with the exact paths of the pages that show a changed book. Every path
    is validated before any is queued: a bad one raises (``TypeError``/``InvalidPathError``,
    or ``InvalidPathError`` for more than ``MAX_PATHS_PER_CALL`` paths) and nothing is
    queued. Infrastructure failures (Redis down) never raise: they are logged, and the
    cached copies expire at their ``s-maxage``. Without ``CLOUDFRONT_DISTRIBUTION_ID`` and
    ``HTTP_CACHE_PURGE_URL`` there is nobody to tell and nothing is queued.
    """
    if isinstance(paths, str | bytes):
        raise TypeError("invalidate_paths takes a collection of paths, not one string")
    normalised: set[str] = set()
    for path in paths:
        normalised.add(normalise_path(path))
        if len(normalised) > MAX_PATHS_PER_CALL:
            raise InvalidPathError(
                f"more than {MAX_PATHS_PER_CALL} paths in one call; invalidate a wildcard (e.g. '/books/*') instead"
            )
    to_cdn, to_purge = bool(settings.CLOUDFRONT_DISTRIBUTION_ID), bool(settings.HTTP_CACHE_PURGE_URL)
    if not normalised or not (to_cdn or to_purge):
        return
    try:
        store = pending_store()
        store.add(sorted(normalised), to_cdn=to_cdn, to_purge=to_purge)
        _schedule_flush(store, countdown=settings.EDGE_INVALIDATION_DEBOUNCE_SECONDS)
    except Exception:  # runs after the commit: failing here would turn a saved change into a 500
        logger.exception(
            "cdn: could not queue %d paths for invalidation; they expire at their s-maxage", len(normalised)
        )


# --- Wildcards ------------------------------------------------------------------------------------


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("?", 1)[0].split("/") if segment]


def _wildcard_at(path: str, depth: int) -> str | None:
    """The wildcard of ``path``'s first ``depth`` segments (``/books/*``), or None when it is shallower."""
    segments = _segments(path)
    if len(segments) < depth:
        return None
    base = "/" + "".join(segment + "/" for segment in segments[:depth])
    return base + "*" if path.startswith(base) else None


def _drop_covered(paths: set[str]) -> set[str]:
    """Remove the paths a wildcard among them already covers."""
    prefixes = sorted({path[:-1] for path in paths if path.endswith("*")}, key=len)
    if not prefixes:
        return paths
    return {path for path in paths if not any(path.startswith(prefix) and path != prefix + "*" for prefix in prefixes)}


def collapse_paths(paths: Collection[str], limit: int) -> list[str]:
    """At most ``limit`` paths covering ``paths``: the biggest groups become wildcards first.

    Deepest prefixes first (``/books/dune-*``-level groups before ``/books/*``), the largest
    groups of each depth first, so as little as possible is invalidated beyond what changed.
    """
    current = _drop_covered(set(paths))
    deepest = max((len(_segments(path)) for path in current), default=0)
    for depth in range(deepest - 1, -1, -1):
        if len(current) <= limit:
            break
        groups: dict[str, set[str]] = defaultdict(set)
        for path in current:
            wildcard = _wildcard_at(path, depth)
            if wildcard is not None:
                groups[wildcard].add(path)
        for wildcard, members in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
            if len(current) <= limit:
                break
            if len(members) > 1 or depth == 0:
                current = (current - members) | {wildcard}
        current = _drop_covered(current)
    return sorted(current)


# --- Pending paths: Redis, or this process's memory ---------------------------------------------


@dataclass
class Batch:
    """Paths on their way to CloudFront, written down before the call (see the module docstring)."""

    reference: str
    paths: list[str]
    attempts: int = 0

    def to_json(self) -> str:
        return json.dumps({"reference": self.reference, "paths": self.paths, "attempts": self.attempts})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Batch:
        data = json.loads(raw)
        return cls(reference=data["reference"], paths=list(data["paths"]), attempts=int(data["attempts"]))


class PendingStore(Protocol):
    namespace: str

    def add(self, paths: list[str], *, to_cdn: bool, to_purge: bool) -> None: ...
    def mark_scheduled(self, seconds: float) -> bool: ...
    def clear_scheduled(self) -> None: ...
    def cdn_pending(self) -> set[str]: ...
    def cdn_start_batch(self, batch: Batch, covered: Collection[str]) -> None: ...
    def cdn_in_flight(self) -> Batch | None: ...
    def cdn_save_in_flight(self, batch: Batch | None) -> None: ...
    def cdn_call_slot(self, interval: float) -> float: ...
    def purge_take_all(self) -> dict[str, int]: ...
    def purge_put_back(self, attempts: dict[str, int]) -> None: ...


class RedisPendingStore:
    """Pending paths in the durable Redis, under the cache key prefix (so test runs never meet).

    ``cdn`` is a set of paths, ``purge`` a hash of path -> failed attempts, ``in-flight`` the
    batch being sent, ``next-call`` a key that lives as long as the rate limit's interval.
    """

    def __init__(self) -> None:
        from django_redis import get_redis_connection

        # Durable: pending paths are work owed to the CDN, not a cache that may be evicted.
        cache = caches["durable"]
        # "{invalidation}" is the keys' hash tag: the transactions below span two of them, which
        # a Redis Cluster allows only within one slot.
        self.namespace = cache.make_key("edge:{invalidation}")
        self.redis = get_redis_connection("durable")

    def _key(self, part: str) -> str:
        return f"{self.namespace}:{part}"

    def add(self, paths: list[str], *, to_cdn: bool, to_purge: bool) -> None:
        pipeline = self.redis.pipeline()
        for start in range(0, len(paths), 1000):
            chunk = paths[start : start + 1000]
            if to_cdn:
                pipeline.sadd(self._key("cdn"), *chunk)
            if to_purge:  # a new change starts the path's attempts again
                pipeline.hset(self._key("purge"), mapping=dict.fromkeys(chunk, 0))
        pipeline.execute()

    def mark_scheduled(self, seconds: float) -> bool:
        # The flag outlives a lost task, so a later change schedules a new one.
        return bool(self.redis.set(self._key("scheduled"), 1, nx=True, ex=max(30, int(seconds * 10) + 1)))

    def clear_scheduled(self) -> None:
        self.redis.delete(self._key("scheduled"))

    def cdn_pending(self) -> set[str]:
        return {member.decode() for member in self.redis.smembers(self._key("cdn"))}

    def cdn_start_batch(self, batch: Batch, covered: Collection[str]) -> None:
        # One transaction: the paths leave the pending set only as the batch is written down.
        pipeline = self.redis.pipeline(transaction=True)
        pipeline.set(self._key("in-flight"), batch.to_json())
        if covered:
            pipeline.srem(self._key("cdn"), *covered)
        pipeline.execute()

    def cdn_in_flight(self) -> Batch | None:
        raw = self.redis.get(self._key("in-flight"))
        return Batch.from_json(raw) if raw else None

    def cdn_save_in_flight(self, batch: Batch | None) -> None:
        if batch is None:
            self.redis.delete(self._key("in-flight"))
        else:
            self.redis.set(self._key("in-flight"), batch.to_json())

    def cdn_call_slot(self, interval: float) -> float:
        if interval <= 0:
            return 0.0
        if self.redis.set(self._key("next-call"), 1, nx=True, px=max(1, int(interval * 1000))):
            return 0.0
        milliseconds_left: int = self.redis.pttl(self._key("next-call"))
        return max(0.05, milliseconds_left / 1000)

    def purge_take_all(self) -> dict[str, int]:
        pipeline = self.redis.pipeline(transaction=True)
        pipeline.hgetall(self._key("purge"))
        pipeline.delete(self._key("purge"))
        entries, _ = pipeline.execute()
        return {path.decode(): int(attempts) for path, attempts in entries.items()}

    def purge_put_back(self, attempts: dict[str, int]) -> None:
        if attempts:
            # HSETNX: a path queued again meanwhile keeps its fresh count of 0.
            pipeline = self.redis.pipeline()
            for path, count in attempts.items():
                pipeline.hsetnx(self._key("purge"), path, count)
            pipeline.execute()


class MemoryPendingStore:
    """The same in this process's memory, for the embedded default (one process, eager Celery)."""

    namespace = "memory"
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.cdn: set[str] = set()
        self.purge: dict[str, int] = {}
        self.in_flight: Batch | None = None
        self.scheduled = False
        self.next_call_at = 0.0

    def add(self, paths: list[str], *, to_cdn: bool, to_purge: bool) -> None:
        with self._lock:
            if to_cdn:
                self.cdn.update(paths)
            if to_purge:
                self.purge.update(dict.fromkeys(paths, 0))

    def mark_scheduled(self, seconds: float) -> bool:
        with self._lock:
            was_scheduled, self.scheduled = self.scheduled, True
            return not was_scheduled

    def clear_scheduled(self) -> None:
        self.scheduled = False

    def cdn_pending(self) -> set[str]:
        with self._lock:
            return set(self.cdn)

    def cdn_start_batch(self, batch: Batch, covered: Collection[str]) -> None:
        with self._lock:
            self.in_flight = batch
            self.cdn.difference_update(covered)

    def cdn_in_flight(self) -> Batch | None:
        return self.in_flight

    def cdn_save_in_flight(self, batch: Batch | None) -> None:
        self.in_flight = batch

    def cdn_call_slot(self, interval: float) -> float:
        with self._lock:
            now = time.monotonic()
            if now >= self.next_call_at:
                self.next_call_at = now + interval
                return 0.0
            return self.next_call_at - now

    def purge_take_all(self) -> dict[str, int]:
        with self._lock:
            entries, self.purge = self.purge, {}
            return entries

    def purge_put_back(self, attempts: dict[str, int]) -> None:
        with self._lock:
            for path, count in attempts.items():
                self.purge.setdefault(path, count)


_memory_store = MemoryPendingStore()


def pending_store() -> PendingStore:
    """Where pending paths wait: Redis when there is one, else this process's memory."""
    return RedisPendingStore() if settings.REDIS_URL else _memory_store


def _schedule_flush(store: PendingStore, *, countdown: float) -> None:
    """Queue one flush unless one is already queued (the flag makes it exactly one per burst)."""
    from cloudshelf.edge.tasks import cdn_flush_invalidations

    if store.mark_scheduled(countdown):
        cdn_flush_invalidations.apply_async(args=[store.namespace], countdown=countdown)


# --- The flush ----------------------------------------------------------------------------------


@dataclass
class FlushReport:
    """What one run did; ``retry_in`` is when the next run is due (None: nothing left)."""

    purged: list[str] = field(default_factory=list)
    purge_failures: list[str] = field(default_factory=list)
    invalidation_ids: list[str] = field(default_factory=list)
    invalidated: list[str] = field(default_factory=list)
    retry_in: float | None = None

    def due_in(self, seconds: float) -> None:
        self.retry_in = seconds if self.retry_in is None else min(self.retry_in, seconds)


def _backoff(attempts: int) -> float:
    """Exponential backoff with jitter ("equal jitter"): spreads retries of many workers apart."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2.0 ** max(0, attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not cryptography


def flush_invalidations() -> FlushReport:
    """Send the pending paths to the local HTTP cache and CloudFront (the task's body).

    The scheduled flag is cleared first, so a path queued meanwhile is either sent now or
    schedules the next run: none is stranded. Whatever has to wait (rate limit, a failed
    call) schedules the run that sends it.
    """
    store = pending_store()
    store.clear_scheduled()
    report = FlushReport()
    if settings.HTTP_CACHE_PURGE_URL:
        _purge_local(store, report)
    if settings.CLOUDFRONT_DISTRIBUTION_ID:
        _invalidate_at_cloudfront(store, report)
    if report.retry_in is not None:
        _schedule_again(store, report.retry_in)
    return report


def _schedule_again(store: PendingStore, countdown: float) -> None:
    from cloudshelf.edge.tasks import cdn_flush_invalidations

    if cdn_flush_invalidations.app.conf.task_always_eager:
        # In-process Celery would run it now, inside this run: what waits goes out with the next change.
        logger.info("cdn: %.1f s until the next call is allowed; the next change sends the rest", countdown)
        return
    _schedule_flush(store, countdown=countdown)


def _purge_local(store: PendingStore, report: FlushReport) -> None:
    import urllib3

    unreachable_errors = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.TimeoutError)

    entries = store.purge_take_all()
    if not entries:
        return
    failed: dict[str, int] = {}
    is_unreachable = False
    timeout = urllib3.Timeout(connect=PURGE_CONNECT_TIMEOUT, read=PURGE_READ_TIMEOUT)
    with urllib3.PoolManager(maxsize=1, retries=False, timeout=timeout) as pool:
        for path in sorted(entries):
            if path.endswith("*"):  # the local cache purges one URL at a time; its entries expire
                continue
            if not is_unreachable:
                try:
                    response = pool.request("PURGE", settings.HTTP_CACHE_PURGE_URL + path, preload_content=True)
                except urllib3.exceptions.HTTPError as error:
                    logger.warning("cdn: PURGE %s failed: %s", path, error)
                    # Refused or timed out: the rest would only wait for the same answer.
                    is_unreachable = isinstance(error, unreachable_errors)
                else:
                    if response.status in (200, 404):
                        report.purged.append(path)
                        continue
                    logger.warning("cdn: PURGE %s answered %s", path, response.status)
            failed[path] = entries[path] + 1
    put_back = {path: attempts for path, attempts in failed.items() if attempts < MAX_ATTEMPTS}
    report.purge_failures.extend(sorted(failed))
    if len(put_back) < len(failed):
        logger.error(
            "cdn: gave up purging %d paths after %d attempts; they expire at their s-maxage",
            len(failed) - len(put_back),
            MAX_ATTEMPTS,
        )
    if put_back:
        store.purge_put_back(put_back)
        report.due_in(_backoff(max(put_back.values())))


def cloudfront_client() -> Any:
    """A CloudFront client; ``AWS_ENDPOINT_URL`` points it at moto in tests.

    botocore's own retries are off: a failed call is retried by a later run of the task
    (backoff with jitter, the batch's reference unchanged) instead of holding a worker.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=CLOUDFRONT_CONNECT_TIMEOUT,
        read_timeout=CLOUDFRONT_READ_TIMEOUT,
    )
    return boto3.session.Session().client(
        "cloudfront", endpoint_url=settings.AWS_ENDPOINT_URL, region_name="us-east-1", config=config
    )


def _next_batch(store: PendingStore) -> Batch | None:
    """The batch in flight (a retry), else a new one from the pending paths, written down first."""
    batch = store.cdn_in_flight()
    if batch is not None:
        return batch
    pending = store.cdn_pending()
    if not pending:
        return None
    collapsed = collapse_paths(pending, settings.CLOUDFRONT_MAX_PATHS_PER_RUN)
    paths = collapsed[: settings.CLOUDFRONT_INVALIDATION_BATCH]
    prefixes = tuple(path[:-1] for path in paths if path.endswith("*"))
    chosen = set(paths)
    covered = [path for path in pending if path in chosen or path.startswith(prefixes)]
    batch = Batch(reference=f"cloudshelf-{uuid.uuid4().hex}", paths=paths)
    store.cdn_start_batch(batch, covered)
    return batch


def _invalidate_at_cloudfront(store: PendingStore, report: FlushReport) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    client = None
    while True:
        if store.cdn_in_flight() is None and not store.cdn_pending():
            return
        wait = store.cdn_call_slot(settings.CLOUDFRONT_INVALIDATION_INTERVAL)
        if wait > 0:
            report.due_in(wait)
            return
        attempt = cloudfront_breaker.acquire()
        if attempt is None:
            # CloudFront failed lately: no call, everything stays pending until after the cool-down.
            report.due_in(settings.CLOUDFRONT_BREAKER_COOLDOWN)
            logger.info("cdn: the cloudfront breaker is open; invalidations wait for its cool-down")
            return
        batch = _next_batch(store)
        if batch is None:
            cloudfront_breaker.release(attempt)
            return
        client = client or cloudfront_client()
        try:
            answer = client.create_invalidation(
                DistributionId=settings.CLOUDFRONT_DISTRIBUTION_ID,
                InvalidationBatch={
                    "Paths": {"Quantity": len(batch.paths), "Items": batch.paths},
                    "CallerReference": batch.reference,
                },
            )
        except (ClientError, BotoCoreError) as error:
            if _is_retryable(error):  # no answer, a 5xx or throttling: CloudFront is in trouble
                cloudfront_breaker.record_failure(attempt)
            else:  # CloudFront answered; the request was at fault
                cloudfront_breaker.record_success(attempt)
            _cloudfront_failed(store, report, batch, error)
            return
        cloudfront_breaker.record_success(attempt)
        store.cdn_save_in_flight(None)
        report.invalidation_ids.append(answer["Invalidation"]["Id"])
        report.invalidated.extend(batch.paths)
        logger.info("cdn: invalidation %s of %d paths", answer["Invalidation"]["Id"], len(batch.paths))


def _is_retryable(error: Exception) -> bool:
    """Throttling, a 5xx, or no answer at all (connection refused, timeout: CloudFront may or may not have it)."""
    from botocore.exceptions import ClientError

    if not isinstance(error, ClientError):
        return True
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _RETRYABLE_CODES or status >= 500 or status == 429


def _cloudfront_failed(store: PendingStore, report: FlushReport, batch: Batch, error: Exception) -> None:
    batch.attempts += 1
    if not _is_retryable(error) or batch.attempts >= MAX_ATTEMPTS:
        store.cdn_save_in_flight(None)
        logger.error(
            "cdn: dropped invalidation %s of %d paths after %d attempts: %s",
            batch.reference,
            len(batch.paths),
            batch.attempts,
            error,
        )
        if store.cdn_pending():
            report.due_in(settings.CLOUDFRONT_INVALIDATION_INTERVAL)
        return
    store.cdn_save_in_flight(batch)
    retry_in = _backoff(batch.attempts)
    report.due_in(retry_in)
    logger.warning(
        "cdn: invalidation %s failed (attempt %d), retrying in %.1f s: %s",
        batch.reference,
        batch.attempts,
        retry_in,
        error,
    )
