"""Where carts live: one small interface, two backends.

A cart is a hash of ``q:<book_id>`` (quantity) and ``p:<book_id>`` (the price the customer
saw when they last added or changed that line) under ``cart:{user:<id>}`` or
``cart:{session:<session key>}``, namespaced by the cache's key prefix so tests and
deployments sharing a Redis never meet. Every write is a check-and-write (line limit,
per-line maximum, stock cap), so each one is a single operation on the server:

* ``RedisCartStore`` (``REDIS_URL`` set): Lua scripts on the raw connection. Redis runs a
  script to completion before the next command, so fifty concurrent "add one" requests end
  at fifty, and a merge can never interleave with an add. The raw connection is used on
  purpose: the cache swallows Redis errors (``DJANGO_REDIS_IGNORE_EXCEPTIONS``), a cart must
  not silently forget a line, so errors surface here as ``CartStoreUnavailable``.
* ``CacheCartStore`` (the embedded default): the same operations on a dict kept in Django's
  cache. A process-wide lock makes each operation atomic between the threads of one
  ``runserver``; it is **not** atomic between processes, which the embedded default never runs.

Nothing here knows about books, prices or users: the services pass the limits and the
stock in, and translate the outcome codes into messages.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import BaseCache, caches

# Outcome codes a write can return; the services turn the refusals into ``CartError``s.
OK = "ok"
LINE_LIMIT = "line_limit"
LINE_MAX_QUANTITY = "line_max_quantity"
NOT_ENOUGH_STOCK = "not_enough_stock"
NOT_IN_CART = "not_in_cart"

DAY_SECONDS = 24 * 60 * 60


class CartStoreUnavailable(Exception):
    """The cart store could not be reached (Redis down, timed out or refusing)."""


@dataclass(frozen=True)
class CartRef:
    """Which cart, and how long it may sit idle before it expires."""

    key: str
    ttl_seconds: int


def customer_cart(user_id: int) -> CartRef:
    """The cart of a signed-in customer (follows them across devices)."""
    return CartRef(key=f"cart:{{user:{user_id}}}", ttl_seconds=settings.CART_CUSTOMER_TTL_DAYS * DAY_SECONDS)


def anonymous_cart(session_key: str) -> CartRef:
    """The cart of a visitor who has not logged in, tied to their session."""
    return CartRef(key=f"cart:{{session:{session_key}}}", ttl_seconds=settings.CART_ANONYMOUS_TTL_DAYS * DAY_SECONDS)


def claim_key(source: CartRef) -> str:
    """Where a merge keeps the anonymous cart it took, under the same hash tag (``cart:{session:…}:merging``)."""
    return f"{source.key}:merging"


def merge_marker_key(target: CartRef, token: str) -> str:
    """The customer-side "merge ``token`` applied" marker, under the customer cart's tag."""
    return f"{target.key}:merged:{token}"


@dataclass(frozen=True)
class CartLimits:
    max_lines: int
    max_quantity: int

    @classmethod
    def from_settings(cls) -> CartLimits:
        return cls(max_lines=settings.CART_MAX_LINES, max_quantity=settings.CART_MAX_QUANTITY_PER_LINE)

    def line_quantity_limit(self, *, stock: int) -> int:
        """The most copies of a book one line may hold: the lower of the per-line maximum and the stock.

        The one rule behind every quantity field's ``max`` and the "choose a quantity" message.
        At least 1, so a field stays valid for a book that just sold out (its add is refused).
        """
        return max(1, min(self.max_quantity, stock))


@dataclass(frozen=True)
class StoredLine:
    quantity: int
    price_seen: Decimal | None


@dataclass(frozen=True)
class WriteOutcome:
    """``code`` is ``OK`` or why nothing changed; ``quantity`` is the line's quantity after the
    operation (before it, on a refusal); ``count`` the cart's total number of items after it."""

    code: str
    quantity: int
    count: int


@dataclass(frozen=True)
class MergeOutcome:
    merged_lines: int
    reduced_lines: int


class CartStore(Protocol):
    """What the cart services need from a store. Every method is one atomic operation."""

    def lines(self, cart: CartRef, *, refresh: bool) -> dict[int, StoredLine]:
        """The cart's lines by book id; ``refresh`` restarts the idle clock (a cart page view)."""
        ...

    def count(self, cart: CartRef) -> int:
        """Total items in the cart (for the header); read-only."""
        ...

    def add(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        """Add ``quantity`` to a line (creating it), unless that breaks a limit or the stock."""
        ...

    def set(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        """Set an existing line's quantity, unless that breaks a limit or the stock."""
        ...

    def remove(self, cart: CartRef, *, book_ids: list[int]) -> WriteOutcome:
        """Remove lines (absent ones are ignored, so a retried remove is harmless)."""
        ...

    def clear(self, cart: CartRef) -> None: ...

    def subtract(self, cart: CartRef, *, quantities: Mapping[int, int]) -> None:
        """Take ordered quantities out of the cart, dropping lines that reach zero.

        Used after an order commits instead of ``clear``, so a book added in another tab
        while the order was being placed stays in the cart.
        """
        ...

    def merge(self, source: CartRef, target: CartRef, *, caps: Mapping[int, int], limits: CartLimits) -> MergeOutcome:
        """Move every line of ``source`` into ``target`` (quantities add) and delete ``source``.

        Each merged quantity is capped at ``caps[book_id]`` (the stock) and the per-line
        maximum; lines past the line limit are dropped. ``reduced_lines`` counts the lines that
        were capped or dropped.
        """
        ...

    def ttl(self, cart: CartRef) -> int | None:
        """Seconds until the cart expires (``None`` when it does not exist); for tests and tools."""
        ...


def _parse_lines(fields: Mapping[Any, Any]) -> dict[int, StoredLine]:
    """Lines from the raw hash; malformed fields (never written by us) are skipped."""
    decoded = {_text(name): _text(value) for name, value in fields.items()}
    lines: dict[int, StoredLine] = {}
    for name, value in decoded.items():
        if not name.startswith("q:"):
            continue
        try:
            book_id, quantity = int(name[2:]), int(value)
        except ValueError:
            continue
        if quantity <= 0:
            continue
        lines[book_id] = StoredLine(quantity=quantity, price_seen=_decimal_or_none(decoded.get(f"p:{book_id}")))
    return lines


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decimal_or_none(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


# --- Redis -------------------------------------------------------------------------------

# Shared by the scripts: the number of lines and of items in a cart hash.
_LUA_TOTALS = """
local function totals(key)
  local flat = redis.call('HGETALL', key)
  local lines, items = 0, 0
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, 2) == 'q:' then
      lines = lines + 1
      items = items + tonumber(flat[i + 1])
    end
  end
  return lines, items
end
"""

# KEYS[1] cart; ARGV: book id, quantity, price, max lines, max quantity, stock, ttl, mode.
# mode 'add' adds to the line (creating it); 'set' replaces the quantity of an existing line.
_LUA_WRITE = (
    _LUA_TOTALS
    + """
local key, book = KEYS[1], ARGV[1]
local quantity, price = tonumber(ARGV[2]), ARGV[3]
local max_lines, max_quantity, stock = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ttl, mode = tonumber(ARGV[7]), ARGV[8]
local current = tonumber(redis.call('HGET', key, 'q:' .. book) or '0')
local wanted = quantity
if mode == 'add' then
  wanted = current + quantity
elseif current == 0 then
  local _, items = totals(key)
  return {'not_in_cart', 0, items}
end
if current == 0 then
  local lines, items = totals(key)
  if lines >= max_lines then return {'line_limit', 0, items} end
end
if wanted > max_quantity then
  local _, items = totals(key)
  return {'line_max_quantity', current, items}
end
if wanted > stock then
  local _, items = totals(key)
  return {'not_enough_stock', current, items}
end
redis.call('HSET', key, 'q:' .. book, wanted, 'p:' .. book, price)
redis.call('EXPIRE', key, ttl)
local _, items = totals(key)
return {'ok', wanted, items}
"""
)

# KEYS[1] cart; ARGV: ttl, book ids...
_LUA_REMOVE = (
    _LUA_TOTALS
    + """
local key = KEYS[1]
for i = 2, #ARGV do
  redis.call('HDEL', key, 'q:' .. ARGV[i], 'p:' .. ARGV[i])
end
local _, items = totals(key)
if items > 0 then redis.call('EXPIRE', key, tonumber(ARGV[1])) end
return {'ok', 0, items}
"""
)

# KEYS[1] cart; ARGV: ttl, then (book id, quantity) pairs.
_LUA_SUBTRACT = """
local key = KEYS[1]
for i = 2, #ARGV, 2 do
  local field = 'q:' .. ARGV[i]
  local left = tonumber(redis.call('HGET', key, field) or '0') - tonumber(ARGV[i + 1])
  if left > 0 then
    redis.call('HSET', key, field, left)
  else
    redis.call('HDEL', key, field, 'p:' .. ARGV[i])
  end
end
if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, tonumber(ARGV[1])) end
return 1
"""

# A merge moves lines between two carts, which live in two hash slots on a Redis Cluster
# (``cart:{session:…}`` and ``cart:{user:…}``), and no script may touch both. So it is three
# single-slot steps, each safe to repeat, under a token drawn for the merge:
#
# 1. claim (source's slot): RENAME the anonymous cart to ``<source>:merging`` with the token
#    in it, or, when an earlier merge of this cart claimed it and stopped, take up that claim
#    and its token. Adds made after the claim start a new anonymous cart, which a later merge
#    moves; the claimed lines are in no cart a customer sees, and no longer in the source.
# 2. apply (target's slot): add the claimed lines to the customer's cart and, in the same
#    script, set ``<target>:merged:<token>`` (holding the outcome). A repeated apply with that
#    token finds the marker and adds nothing: lines are never counted twice.
# 3. release (source's slot): DEL the claim.
#
# A failure between steps leaves the lines in the claim (they expire with the anonymous
# cart's own TTL, which RENAME keeps), and the next merge of that cart resumes at step 2.

# KEYS[1] source, KEYS[2] claim; ARGV: a fresh token. Returns {token, flat fields of the claim}.
_LUA_CLAIM = """
local source, claim = KEYS[1], KEYS[2]
if redis.call('EXISTS', claim) == 0 then
  if redis.call('EXISTS', source) == 0 then return {'', {}} end
  redis.call('RENAME', source, claim)
  redis.call('HSET', claim, '~token', ARGV[1])
end
return {redis.call('HGET', claim, '~token') or '', redis.call('HGETALL', claim)}
"""

# KEYS[1] target, KEYS[2] the merge's marker; ARGV: max lines, max quantity, ttl, marker ttl,
# then (book id, quantity, price or '', cap) in book-id order, so which lines a full cart
# drops does not depend on hash order. Returns {merged, reduced}.
_LUA_APPLY = (
    _LUA_TOTALS
    + """
local target, marker = KEYS[1], KEYS[2]
local done = redis.call('GET', marker)
if done then
  local comma = string.find(done, ',')
  return {tonumber(string.sub(done, 1, comma - 1)), tonumber(string.sub(done, comma + 1))}
end
local max_lines, max_quantity, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local lines = totals(target)
local merged, reduced = 0, 0
for i = 5, #ARGV, 4 do
  local book, quantity, price = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local current = tonumber(redis.call('HGET', target, 'q:' .. book) or '0')
  local cap = math.min(max_quantity, tonumber(ARGV[i + 3]))
  local wanted = math.min(current + quantity, math.max(cap, current))
  if current == 0 and lines >= max_lines then
    reduced = reduced + 1
  else
    if wanted < current + quantity then reduced = reduced + 1 end
    if wanted > current then
      redis.call('HSET', target, 'q:' .. book, wanted)
      if current == 0 then
        lines = lines + 1
        if price ~= '' then redis.call('HSET', target, 'p:' .. book, price) end
      end
      merged = merged + 1
    end
  end
end
if redis.call('EXISTS', target) == 1 then redis.call('EXPIRE', target, ttl) end
redis.call('SET', marker, merged .. ',' .. reduced, 'EX', tonumber(ARGV[4]))
return {merged, reduced}
"""
)

# KEYS[1] claim. A script rather than DEL so that every step goes through the same retry.
_LUA_RELEASE = """
return redis.call('DEL', KEYS[1])
"""

_LUA_COUNT = (
    _LUA_TOTALS
    + """
local _, items = totals(KEYS[1])
return items
"""
)

# KEYS[1] cart; ARGV: ttl, refresh (1/0). The lines, with the idle clock restarted on request.
_LUA_LINES = """
local flat = redis.call('HGETALL', KEYS[1])
if ARGV[2] == '1' and #flat > 0 then redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1])) end
return flat
"""


@dataclass(frozen=True)
class _Script:
    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> _Script:
        return cls(source=source, sha=hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest())


_WRITE, _REMOVE, _SUBTRACT, _CLAIM, _APPLY, _RELEASE, _COUNT, _LINES = (
    _Script.of(source)
    for source in (
        _LUA_WRITE,
        _LUA_REMOVE,
        _LUA_SUBTRACT,
        _LUA_CLAIM,
        _LUA_APPLY,
        _LUA_RELEASE,
        _LUA_COUNT,
        _LUA_LINES,
    )
)

# Each merge step is tried this often before the merge gives up (the claim keeps the lines).
MERGE_STEP_ATTEMPTS = 3


class RedisCartStore:
    """Carts as Redis hashes, every operation one Lua script (atomic on the server)."""

    def __init__(self, client: Any, make_key: Callable[[str], str]) -> None:
        self.client = client
        self.make_key = make_key

    def _run(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        """EVALSHA, loading the script on first use; every Redis failure becomes ``CartStoreUnavailable``."""
        from redis.exceptions import NoScriptError, RedisError

        full_keys = [str(self.make_key(key)) for key in keys]
        try:
            try:
                return self.client.evalsha(script.sha, len(full_keys), *full_keys, *args)
            except NoScriptError:
                return self.client.eval(script.source, len(full_keys), *full_keys, *args)
        except RedisError as error:
            raise CartStoreUnavailable(str(error)) from error

    @staticmethod
    def _outcome(reply: list[Any]) -> WriteOutcome:
        return WriteOutcome(code=_text(reply[0]), quantity=int(reply[1]), count=int(reply[2]))

    def lines(self, cart: CartRef, *, refresh: bool) -> dict[int, StoredLine]:
        flat = self._run(_LINES, [cart.key], [cart.ttl_seconds, "1" if refresh else "0"])
        return _parse_lines(dict(zip(flat[::2], flat[1::2], strict=True)))

    def count(self, cart: CartRef) -> int:
        return int(self._run(_COUNT, [cart.key], []))

    def _write(
        self, mode: str, cart: CartRef, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        args = [book_id, quantity, str(price), limits.max_lines, limits.max_quantity, stock, cart.ttl_seconds, mode]
        return self._outcome(self._run(_WRITE, [cart.key], args))

    def add(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        return self._write("add", cart, book_id, quantity, price, stock, limits)

    def set(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        return self._write("set", cart, book_id, quantity, price, stock, limits)

    def remove(self, cart: CartRef, *, book_ids: list[int]) -> WriteOutcome:
        return self._outcome(self._run(_REMOVE, [cart.key], [cart.ttl_seconds, *book_ids]))

    def clear(self, cart: CartRef) -> None:
        from redis.exceptions import RedisError

        try:
            self.client.delete(self.make_key(cart.key))
        except RedisError as error:
            raise CartStoreUnavailable(str(error)) from error

    def subtract(self, cart: CartRef, *, quantities: Mapping[int, int]) -> None:
        pairs = [value for book_id in sorted(quantities) for value in (book_id, quantities[book_id])]
        self._run(_SUBTRACT, [cart.key], [cart.ttl_seconds, *pairs])

    def merge(self, source: CartRef, target: CartRef, *, caps: Mapping[int, int], limits: CartLimits) -> MergeOutcome:
        """Three single-slot steps (claim, apply, release; see ``_LUA_CLAIM``), each retried.

        A claim an earlier merge left behind is finished first, and then the lines added to the
        visitor's cart since, in the same call: the log-in calling it is the last merge of that
        cart (the session gets a new key), so leaving them for a next merge would lose them.
        """
        merged = reduced = 0
        for _ in range(2):
            fresh = secrets.token_hex(16)
            token, outcome = self._merge_claim(source, target, fresh, caps=caps, limits=limits)
            merged, reduced = merged + outcome.merged_lines, reduced + outcome.reduced_lines
            if token in ("", fresh):  # nothing was claimed, or this call's own claim is done
                break
        return MergeOutcome(merged_lines=merged, reduced_lines=reduced)

    def _merge_claim(
        self, source: CartRef, target: CartRef, fresh: str, *, caps: Mapping[int, int], limits: CartLimits
    ) -> tuple[str, MergeOutcome]:
        """Claim (or take up an earlier claim), apply and release once; returns the claim's token."""
        claim = claim_key(source)
        token, flat = self._step(_CLAIM, [source.key, claim], [fresh])
        token = _text(token)
        if not token:
            return "", MergeOutcome(merged_lines=0, reduced_lines=0)
        lines = _parse_lines(dict(zip(flat[::2], flat[1::2], strict=True)))
        # The marker outlives the claim (at most the anonymous cart's TTL), so a late resume still finds it.
        marker_seconds = source.ttl_seconds + DAY_SECONDS
        args: list[Any] = [limits.max_lines, limits.max_quantity, target.ttl_seconds, marker_seconds]
        for book_id in sorted(lines):
            line = lines[book_id]
            price = "" if line.price_seen is None else str(line.price_seen)
            args += [book_id, line.quantity, price, caps.get(book_id, limits.max_quantity)]
        merged, reduced = self._step(_APPLY, [target.key, merge_marker_key(target, token)], args)
        self._step(_RELEASE, [claim], [])
        return token, MergeOutcome(merged_lines=int(merged), reduced_lines=int(reduced))

    def _step(self, script: _Script, keys: list[str], args: list[Any]) -> Any:
        """A merge step, tried up to ``MERGE_STEP_ATTEMPTS`` times: each is safe to repeat."""
        for attempt in range(1, MERGE_STEP_ATTEMPTS + 1):
            try:
                return self._run(script, keys, args)
            except CartStoreUnavailable:
                if attempt == MERGE_STEP_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def ttl(self, cart: CartRef) -> int | None:
        seconds = int(self.client.ttl(self.make_key(cart.key)))
        return seconds if seconds >= 0 else None


# --- Django's cache (the embedded default) -----------------------------------------------------


class CacheCartStore:
    """Carts as dicts in Django's cache: ``{book_id: (quantity, price_seen)}``.

    Each operation reads, changes and writes the whole cart under a process-wide lock, so it
    is atomic between threads of one process only. That is what the embedded default
    (``runserver``, one process) needs; with several processes use Redis.
    """

    _lock = threading.Lock()

    def __init__(self, cache: BaseCache) -> None:
        self.cache = cache

    def _load(self, cart: CartRef) -> dict[int, tuple[int, str]]:
        stored = self.cache.get(cart.key)
        return dict(stored) if isinstance(stored, dict) else {}

    def _save(self, cart: CartRef, lines: dict[int, tuple[int, str]]) -> None:
        if lines:
            self.cache.set(cart.key, lines, timeout=cart.ttl_seconds)
        else:
            self.cache.delete(cart.key)

    @staticmethod
    def _count(lines: dict[int, tuple[int, str]]) -> int:
        return sum(quantity for quantity, _ in lines.values())

    def lines(self, cart: CartRef, *, refresh: bool) -> dict[int, StoredLine]:
        with self._lock:
            lines = self._load(cart)
            if refresh and lines:
                self.cache.touch(cart.key, timeout=cart.ttl_seconds)
        return {
            book_id: StoredLine(quantity=quantity, price_seen=_decimal_or_none(price))
            for book_id, (quantity, price) in lines.items()
        }

    def count(self, cart: CartRef) -> int:
        return self._count(self._load(cart))

    def _write(
        self, mode: str, cart: CartRef, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        with self._lock:
            lines = self._load(cart)
            current = lines[book_id][0] if book_id in lines else 0
            count = self._count(lines)
            wanted = current + quantity if mode == "add" else quantity
            if mode == "set" and current == 0:
                return WriteOutcome(NOT_IN_CART, 0, count)
            if current == 0 and len(lines) >= limits.max_lines:
                return WriteOutcome(LINE_LIMIT, 0, count)
            if wanted > limits.max_quantity:
                return WriteOutcome(LINE_MAX_QUANTITY, current, count)
            if wanted > stock:
                return WriteOutcome(NOT_ENOUGH_STOCK, current, count)
            lines[book_id] = (wanted, str(price))
            self._save(cart, lines)
            return WriteOutcome(OK, wanted, self._count(lines))

    def add(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        return self._write("add", cart, book_id, quantity, price, stock, limits)

    def set(
        self, cart: CartRef, *, book_id: int, quantity: int, price: Decimal, stock: int, limits: CartLimits
    ) -> WriteOutcome:
        return self._write("set", cart, book_id, quantity, price, stock, limits)

    def remove(self, cart: CartRef, *, book_ids: list[int]) -> WriteOutcome:
        with self._lock:
            lines = self._load(cart)
            for book_id in book_ids:
                lines.pop(book_id, None)
            self._save(cart, lines)
            return WriteOutcome(OK, 0, self._count(lines))

    def clear(self, cart: CartRef) -> None:
        with self._lock:
            self.cache.delete(cart.key)

    def subtract(self, cart: CartRef, *, quantities: Mapping[int, int]) -> None:
        with self._lock:
            lines = self._load(cart)
            for book_id, ordered in quantities.items():
                if book_id not in lines:
                    continue
                quantity, price = lines[book_id]
                if quantity > ordered:
                    lines[book_id] = (quantity - ordered, price)
                else:
                    del lines[book_id]
            self._save(cart, lines)

    def merge(self, source: CartRef, target: CartRef, *, caps: Mapping[int, int], limits: CartLimits) -> MergeOutcome:
        with self._lock:
            incoming, lines = self._load(source), self._load(target)
            merged = reduced = 0
            for book_id in sorted(incoming):
                quantity, price = incoming[book_id]
                current = lines[book_id][0] if book_id in lines else 0
                cap = min(limits.max_quantity, caps.get(book_id, limits.max_quantity))
                wanted = min(current + quantity, max(cap, current))
                if current == 0 and len(lines) >= limits.max_lines:
                    reduced += 1
                    continue
                if wanted < current + quantity:
                    reduced += 1
                if wanted > current:
                    lines[book_id] = (wanted, lines[book_id][1] if book_id in lines else price)
                    merged += 1
            self.cache.delete(source.key)
            self._save(target, lines)
            return MergeOutcome(merged_lines=merged, reduced_lines=reduced)

    def ttl(self, cart: CartRef) -> int | None:
        return None  # Django's cache API cannot tell; the Redis store can.


def get_store() -> CartStore:
    """The store for this deployment: Redis when ``REDIS_URL`` is set, else Django's cache.

    Both on the ``"durable"`` alias: a cart is data, so it lives on the Redis that keeps an
    append-only file and never evicts (docs/operations.md), not on the evictable cache.
    """
    cache = caches["durable"]
    if settings.REDIS_URL:
        from django_redis import get_redis_connection
        from redis.exceptions import RedisError

        try:
            # A Redis Cluster client reads the slot map as it is made: an unreachable cluster fails here.
            client = get_redis_connection("durable")
        except RedisError as error:
            raise CartStoreUnavailable(str(error)) from error
        return RedisCartStore(client, cache.make_key)
    return CacheCartStore(cache)
