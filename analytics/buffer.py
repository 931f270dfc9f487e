"""The analytics write buffer: events wait in Redis and reach Postgres in batches, written by Celery.

``enqueue(stream, payload)`` is all a request pays: one round trip to the durable Redis
(``RPUSH`` of the JSON payload and ``SET NX`` of the stream's "flush scheduled" flag in one
pipeline). The first event of a burst finds the flag unset and schedules one
``analytics.flush_buffer`` ``FLUSH_AFTER_SECONDS`` later, which writes everything gathered by
then through the stream's writer (``register_writer``), ``FLUSH_BATCH`` events per call, each
call one transaction of multi-row statements. Nothing here raises into the caller, and no
customer waits for Postgres. Without Redis (the embedded default) the writer runs at once:
there is nowhere to buffer.

**Delivery: exactly once, unless the batch record is pruned first.** A flush moves a batch from
the pending list into the stream's *processing* list (one Lua script, so an event is always in
one of the two lists), with a fresh batch id. The writer's rows and a ``FlushedBatch`` row
carrying that id commit in one transaction, and only then is the processing list dropped (again
only if it still holds that batch). A flush that dies before the commit leaves the batch in the
processing list, and the next flush writes it first; one that dies after the commit leaves it
there too, but its id is already in ``FlushedBatch``, so the next flush drops it without writing
it twice. Two flushes running at once meet at the same ``FlushedBatch`` key and only one writes.
A batch a writer refuses (a bug, or a value Postgres rejects: bad items are otherwise dropped
with a warning) stays in the processing list and is retried by the next flushes, with an error
logged each time; after ``MAX_BATCH_ATTEMPTS`` failures it is set aside in the stream's *dead*
list (the last ``DEAD_EVENTS_KEPT`` events, for a look by hand) so the events behind it flow again.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import IntegrityError, transaction

from analytics.models import FlushedBatch
from cloudshelf.redis_keys import hash_tag

logger = logging.getLogger(__name__)

# A burst of events is written this long after its first one: one flush per burst, not per event.
FLUSH_AFTER_SECONDS = 5
# A flush scheduled but lost (a broker outage) stops blocking the next schedule after this long.
SCHEDULED_FLAG_SECONDS = 30
# Events per writer call (one transaction); larger batches mean fewer, longer statements.
FLUSH_BATCH = 500
# A payload bigger than this is not an analytics event: refused before it reaches Redis.
MAX_PAYLOAD_BYTES = 4096
# A batch the writer failed on this many times is set aside, not retried for ever ahead of the rest.
MAX_BATCH_ATTEMPTS = 3
# Set-aside events kept per stream (the oldest go first), for as long as a week.
DEAD_EVENTS_KEPT = 10_000
DEAD_EVENTS_SECONDS = 7 * 24 * 3600

Writer = Callable[[list[dict[str, Any]]], int]
"""Writes a batch of payloads (already decoded) and returns how many rows of events it kept.

Called inside the flush's transaction; it drops (with a warning) any payload it cannot use
rather than raising, so one bad event never holds back the others."""

_writers: dict[str, Writer] = {}

# Move up to ARGV[1] events from the pending list to the processing list, unless a batch is
# already there (an earlier flush did not finish): then answer that batch again, with its id.
_CLAIM_BATCH = """
local held = redis.call('LRANGE', KEYS[2], 0, -1)
if #held > 0 then
  return {redis.call('GET', KEYS[3]) or '', held}
end
local items = redis.call('LPOP', KEYS[1], ARGV[1])
if not items then
  return {'', {}}
end
redis.call('RPUSH', KEYS[2], unpack(items))
redis.call('SET', KEYS[3], ARGV[2])
return {ARGV[2], items}
"""

# Drop the processing list (and its failure count) only if it still holds batch ARGV[1].
_RELEASE_BATCH = """
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 1
end
return 0
"""

# Count a failure of batch ARGV[1]; at ARGV[2] failures move it to the dead list KEYS[4] (kept to
# ARGV[3] items for ARGV[4] seconds) and release it. Answers the count, or -1 once set aside.
_FAILED_BATCH = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
local attempts = redis.call('INCR', KEYS[3])
if attempts < tonumber(ARGV[2]) then
  return attempts
end
local held = redis.call('LRANGE', KEYS[1], 0, -1)
if #held > 0 then
  redis.call('RPUSH', KEYS[4], unpack(held))
  redis.call('LTRIM', KEYS[4], -tonumber(ARGV[3]), -1)
  redis.call('EXPIRE', KEYS[4], tonumber(ARGV[4]))
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return -1
"""


def register_writer(stream: str, writer: Writer) -> None:
    """Name the function that writes ``stream``'s batches (apps' ``ready()``; registering again replaces it)."""
    if not stream or not stream.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"a stream name is letters, digits, '-' and '_': {stream!r}")
    _writers[stream] = writer


def registered_streams() -> list[str]:
    """The streams that have a writer, in name order."""
    return sorted(_writers)


def pending_key(stream: str) -> str:
    """The Redis list of ``stream``'s events waiting for a flush.

    Named through the durable cache (test runs never share it); the hash tag keeps the
    stream's lists and flags in one Redis Cluster slot, as the Lua scripts need.
    """
    return caches["durable"].make_key(f"analytics:{hash_tag('buffer-' + stream)}:pending")


def dead_key(stream: str) -> str:
    """The Redis list of ``stream``'s events set aside after their batch failed ``MAX_BATCH_ATTEMPTS`` times."""
    return _sibling(pending_key(stream), "dead")


def _sibling(key: str, role: str) -> str:
    """The stream's other keys are named after its pending list (the flush task is handed that
    name, so a worker with another cache prefix, a test's, still finds them)."""
    return key.removesuffix(":pending") + ":" + role


def _redis() -> Any:
    """The durable Redis: buffered events are data until flushed to Postgres."""
    from django_redis import get_redis_connection

    return get_redis_connection("durable")


def enqueue(stream: str, payload: dict[str, Any]) -> None:
    """Buffer one event of ``stream`` for a batched write. Never raises: analytics must not break a request.

    Dropped with a warning: a stream without a writer, a payload that is not JSON or is larger
    than ``MAX_PAYLOAD_BYTES``, and any Redis failure (the request goes on without its event).
    """
    from analytics.tasks import flush_buffer

    try:
        writer = _writers.get(stream)
        if writer is None:
            raise LookupError(f"no writer registered for stream {stream!r}")
        encoded = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        if len(encoded) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload of {len(encoded)} bytes is over {MAX_PAYLOAD_BYTES}")
        if not settings.REDIS_URL:
            _write_now(writer, [payload])
            return
        pipeline = _redis().pipeline(transaction=False)
        key = pending_key(stream)
        pipeline.rpush(key, encoded)
        pipeline.set(_sibling(key, "scheduled"), 1, nx=True, ex=SCHEDULED_FLAG_SECONDS)
        _, is_first = pipeline.execute()
        if is_first:
            flush_buffer.apply_async(args=[stream, key], countdown=FLUSH_AFTER_SECONDS)
    except Exception:  # a lost analytics event is better than a failed page
        logger.warning("analytics: could not record a %s event", stream, exc_info=True)


def _write_now(writer: Writer, payloads: list[dict[str, Any]]) -> int:
    """The embedded default's path: no buffer, no batch record (one process, nothing to replay)."""
    with transaction.atomic():
        return writer(payloads)


def _decode(stream: str, raw: list[bytes]) -> list[dict[str, Any]]:
    payloads = []
    for item in raw:
        try:
            payload = json.loads(item)
        except ValueError:
            payload = None
        if isinstance(payload, dict):
            payloads.append(payload)
        else:
            logger.warning("analytics: dropped a malformed %s event %r", stream, item[:200])
    return payloads


def flush(*, stream: str, key: str | None = None) -> int:
    """Write every buffered event of ``stream`` (its pending list ``key``, by default
    ``pending_key(stream)``), batch by batch; returns the rows of events kept.

    The flag is cleared first, so an event pushed meanwhile is either taken here or schedules
    the next flush. Safe to run twice, or twice at once (see the module's docstring).
    """
    writer = _writers[stream]
    redis = _redis()
    key = key or pending_key(stream)
    if not key.endswith(":pending"):
        raise ValueError(f"not a pending list of the buffer: {key!r}")
    redis.delete(_sibling(key, "scheduled"))
    claim = redis.register_script(_CLAIM_BATCH)
    release = redis.register_script(_RELEASE_BATCH)
    failed = redis.register_script(_FAILED_BATCH)
    keys = [key, _sibling(key, "processing"), _sibling(key, "batch")]
    held_keys = [keys[1], keys[2], _sibling(key, "attempts")]
    written = 0
    while True:
        batch_id, raw = claim(keys=keys, args=[FLUSH_BATCH, uuid.uuid4().hex])
        if not raw:
            return written
        batch_id = batch_id.decode() if isinstance(batch_id, bytes) else batch_id
        try:
            written += _write_batch(stream, writer, batch_id or uuid.uuid4().hex, _decode(stream, raw))
        except Exception:
            attempts = failed(
                keys=[*held_keys, _sibling(key, "dead")],
                args=[batch_id, MAX_BATCH_ATTEMPTS, DEAD_EVENTS_KEPT, DEAD_EVENTS_SECONDS],
            )
            if attempts != -1:
                raise  # kept for the next flush (the next burst's)
            logger.exception(
                "analytics: the %s writer failed on batch %s %d times; its %d events are set aside in %s",
                stream,
                batch_id,
                MAX_BATCH_ATTEMPTS,
                len(raw),
                _sibling(key, "dead"),
            )
            continue
        if not batch_id:  # a processing list without an id (should not happen): release it anyway
            redis.delete(keys[1])
        elif not release(keys=held_keys, args=[batch_id]):
            return written  # another flush holds the processing list now: it goes on from here


def _write_batch(stream: str, writer: Writer, batch_id: str, payloads: list[dict[str, Any]]) -> int:
    """One transaction: the batch's record, then its rows; 0 when the batch was written before."""
    try:
        with transaction.atomic():
            FlushedBatch.objects.create(id=batch_id, stream=stream[:32])
            return writer(payloads)
    except IntegrityError:
        # Either this batch was committed by an earlier (or concurrent) flush, or the writer's own
        # statement failed; only the first is a reason to drop the batch.
        if FlushedBatch.objects.filter(id=batch_id).exists():
            logger.info("analytics: %s batch %s was written before; dropped", stream, batch_id)
            return 0
        logger.error("analytics: the %s writer failed; the batch is kept for the next flush", stream)
        raise
