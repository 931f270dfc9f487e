"""Which database answers a query: the primary, or its streaming read replica.

With ``DATABASE_REPLICA_URL`` set there are two aliases, ``default`` (the primary, every
write) and ``replica`` (a hot standby that replays the primary's WAL a little later). Reads
go to the replica only where a little staleness is harmless and nobody is waiting to see
their own write (docs/database.md has the whole table):

* catalog and search models (``DATABASE_REPLICA_CATALOG_APPS``) read by a GET or HEAD
  request outside the admin, from a visitor not pinned to the primary (below);
* report models (``DATABASE_REPLICA_REPORT_APPS``, the analytics app) read by any GET or HEAD,
  the admin's read-only report pages included;
* anything read inside ``reads_from_replica()``: report and analytics code opts in.

Everything else reads from the primary: unsafe methods, the admin, accounts, sessions, the
cart, partners, Celery tasks and commands (they run right after the commit that queued
them), a read inside ``transaction.atomic`` on the primary, and a read after a write in the
same request.

A page rendered for the page cache reads from the replica only past a **WAL fence**: the
replica must have replayed every change the page will count as seen, that is up to the WAL
position the page cache noted when its latest change took its number
(``replica_has_every_commit_so_far``; the primary's current position when none was noted).
A kept copy rendered from a replica without a change it already counts as seen would be
served as current until the next change.

**Read-your-writes**: an unsafe request that wrote (or succeeded) pins its visitor to the
primary for ``DATABASE_READ_YOUR_WRITES_SECONDS`` with a short signed cookie. The window is
at least the lag bound, so once it ends the replica holds the write. Such a response is a
POST answer, ``private`` anyway, and pages keep no cookie: shared pages stay cacheable.

**Lag and outages**: each process measures the replica's lag at most once per
``DATABASE_REPLICA_LAG_CHECK_SECONDS``. Beyond ``DATABASE_REPLICA_MAX_LAG_SECONDS``, or
when the replica cannot be reached (a short connect timeout), reads go to the primary; a
failed replica is not tried again for ``DATABASE_REPLICA_DOWN_MEMO_SECONDS`` (as
``cloudshelf.redis_guard`` does for Redis), so an outage costs one connect attempt per
process, not one per request. Each change of state is logged once. A safe request whose
replica query fails mid-way is answered again from the primary: never a 500.

Project machinery: imports no app; apps opt in by name in settings.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, InterfaceError, OperationalError, connections
from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

REPLICA_DB_ALIAS = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD"})
# Where the admin is mounted (cloudshelf/urls.py): staff edit the catalog there, on fresh rows.
ADMIN_PREFIX = "/admin/"
# The read-your-writes pin: a signed timestamp, so it cannot be forged to push reads onto
# the primary, and it ends by itself.
PIN_COOKIE_NAME = "read_primary"
PIN_COOKIE_SALT = "cloudshelf.db_router.pin"

# Lag: 0 when everything received is replayed (an idle primary sends nothing new, and the last
# replayed commit may be hours old), else the age of the last replayed commit. 0 on a server
# that is not a standby (a replica URL naming a primary has nothing to wait for). "Everything
# received" proves nothing while no WAL receiver streams (the primary unreachable, replication
# broken): the standby then receives nothing and would look current for ever, so its lag is the
# age of its last replayed commit (or of its start, having replayed none), which grows. Any role
# sees whether a receiver runs (its pid); its status and times need pg_read_all_stats.
LAG_QUERY = """
SELECT pg_is_in_recovery(),
       CASE WHEN NOT pg_is_in_recovery() THEN 0
            WHEN EXISTS (SELECT FROM pg_stat_wal_receiver)
                 AND pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - coalesce(pg_last_xact_replay_timestamp(), pg_postmaster_start_time())) END
"""


# --- Replica health, per process ------------------------------------------------------


@dataclass(frozen=True)
class ReplicaState:
    """What this process last learnt about the replica."""

    is_up: bool
    lag_seconds: float | None  # None while down
    checked_at: float  # time.monotonic()
    error: str = ""

    @property
    def is_usable(self) -> bool:
        return (
            self.is_up
            and self.lag_seconds is not None
            and self.lag_seconds <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        )


_UNKNOWN = ReplicaState(is_up=False, lag_seconds=None, checked_at=float("-inf"), error="not checked yet")
_state = _UNKNOWN
_probing = threading.Lock()
_storing = threading.Lock()


ROUTER_PATH = "cloudshelf.db_router.ReplicaRouter"


def is_replica_in_use() -> bool:
    """Whether reads may go to a replica: its alias exists and this router is installed (settings)."""
    return REPLICA_DB_ALIAS in settings.DATABASES and ROUTER_PATH in settings.DATABASE_ROUTERS


def measure_replica() -> ReplicaState:
    """Ask the replica for its lag now (one small query); a failure is returned, not raised.

    While the replica counts as down the question goes over a connection of its own, not
    through the alias: a connection pool would wait its whole timeout for a server that
    refuses at once, and fill itself with attempts in the background.
    """
    connection = connections[REPLICA_DB_ALIAS]
    try:
        if _state.is_up:
            with connection.cursor() as cursor:
                cursor.execute(LAG_QUERY)
                _, lag = cursor.fetchone()
        else:
            with psycopg.connect(**connection.get_connection_params(), autocommit=True) as direct:
                _, lag = direct.execute(LAG_QUERY).fetchone() or (None, None)
    except (DatabaseError, psycopg.Error) as error:
        _drop(connection)
        return ReplicaState(is_up=False, lag_seconds=None, checked_at=time.monotonic(), error=_describe(error))
    return ReplicaState(is_up=True, lag_seconds=max(0.0, float(lag or 0)), checked_at=time.monotonic())


def _drop(connection: Any) -> None:
    """Close a replica connection that failed: the next attempt (after the memo) connects afresh."""
    with suppress(DatabaseError):  # closing a broken connection may fail too; it is gone either way
        connection.close()


def _describe(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _remember(new: ReplicaState, *, measured_since: float | None = None) -> None:
    """Store ``new`` and log when the replica changes between usable and not (once per change).

    ``measured_since``: when the measure ``new`` holds began. It is dropped when another thread
    stored a finding since (a replica query that failed while the measure ran is newer news).
    """
    global _state
    with _storing:
        old = _state
        if measured_since is not None and old.checked_at > measured_since:
            return
        _state = new
    if old.is_usable == new.is_usable and old is not _UNKNOWN:
        return
    bound = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
    if new.is_usable:
        if old is not _UNKNOWN:
            logger.warning("database replica usable again (%.1f s behind); replica reads resume", new.lag_seconds)
    elif not new.is_up:
        logger.warning(
            "database replica down (%s); reads go to the primary, next try in %.0f s",
            new.error,
            settings.DATABASE_REPLICA_DOWN_MEMO_SECONDS,
        )
    else:
        logger.warning("database replica %.1f s behind (bound %.1f s); reads go to the primary", new.lag_seconds, bound)


def replica_state() -> ReplicaState:
    """The replica's state, measured again when the last measure is too old.

    Up: re-measured after ``DATABASE_REPLICA_LAG_CHECK_SECONDS``; down: after
    ``DATABASE_REPLICA_DOWN_MEMO_SECONDS``. One thread measures while the others go on with
    the last state, so a hung replica never holds more than one request per process.
    """
    state = _state
    age = time.monotonic() - state.checked_at
    interval = (
        settings.DATABASE_REPLICA_LAG_CHECK_SECONDS if state.is_up else settings.DATABASE_REPLICA_DOWN_MEMO_SECONDS
    )
    if age < interval or not _probing.acquire(blocking=False):
        return state
    try:
        started = time.monotonic()
        _remember(measure_replica(), measured_since=started)
    finally:
        _probing.release()
    return _state


def mark_replica_down(reason: BaseException | str) -> None:
    """Stop using the replica in this process for ``DATABASE_REPLICA_DOWN_MEMO_SECONDS``."""
    message = reason if isinstance(reason, str) else _describe(reason)
    _remember(ReplicaState(is_up=False, lag_seconds=None, checked_at=time.monotonic(), error=message))


def forget_replica_state() -> None:
    """Forget what this process knows: the next read measures the replica again (tests, ops)."""
    global _state
    _state = _UNKNOWN


def primary_wal_position() -> int | None:
    """The primary's WAL insert position as a byte offset, or None without a replica or on error.

    Taken by the page cache right after a change takes its sequence number: every change with
    that number or a lower one committed before this, so a replica replayed this far has them all.
    """
    if REPLICA_DB_ALIAS not in settings.DATABASES:
        return None
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
            return int(cursor.fetchone()[0])
    except DatabaseError:
        return None


def replica_has_every_commit_so_far(position: int | None = None) -> bool:
    """Whether the replica has replayed up to ``position`` (a WAL byte offset; None: the primary's now).

    The fence of a page rendered for the page cache. The page cache passes the position its
    change sequence was noted at (``primary_wal_position``, taken when the last change it counts
    as seen took its number): a replica replayed that far has every change the page will count as
    seen, however much other WAL (autovacuum, analytics batches) the primary has written since.
    Without a noted position, the primary's insert position now: every change the page counts as
    seen committed before this call. Waits up to ``DATABASE_REPLICA_FENCE_WAIT_SECONDS`` for the
    replica to get there (a few milliseconds behind is the normal case), then answers False: the
    page is rendered from the primary.
    """
    if position is None:
        position = primary_wal_position()
        if position is None:
            return False  # the primary is in trouble; the render will say so on its own
    deadline = time.monotonic() + settings.DATABASE_REPLICA_FENCE_WAIT_SECONDS
    try:
        with connections[REPLICA_DB_ALIAS].cursor() as cursor:
            while True:
                # NULL (not a standby) is not past the fence either.
                cursor.execute(
                    "SELECT coalesce(pg_last_wal_replay_lsn() - '0/0'::pg_lsn >= %s::numeric, false)", [position]
                )
                if cursor.fetchone()[0]:
                    return True
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)
    except DatabaseError as error:
        mark_replica_down(error)
        _drop(connections[REPLICA_DB_ALIAS])
        return False


# --- The routing context --------------------------------------------------------------


@dataclass
class RoutingContext:
    """What the router may know of the work in progress (one request, or a ``reads_from_replica`` block)."""

    catalog_reads_on_replica: bool = False  # a safe request outside the admin, not pinned
    report_reads_on_replica: bool = False  # a safe request, or an explicit block
    any_reads_on_replica: bool = False  # reads_from_replica()
    page_render: Callable[[], bool] = lambda: False  # a page cache shell is being rendered
    # The WAL position that shell's change sequence was noted at (None: unknown, ask the primary).
    page_fence_position: Callable[[], int | None] = lambda: None
    page_fence_passed: bool | None = None  # the replica had every commit when the shell began
    wrote: bool = False
    used_replica: bool = False


_context: contextvars.ContextVar[RoutingContext | None] = contextvars.ContextVar("db_routing", default=None)


@contextmanager
def reads_from_replica() -> Iterator[None]:
    """Every read in the block goes to the replica while it is usable (reports, analytics).

    A write in the block, and reads after it, still go to the primary. Without a replica,
    or while it is down or behind, the primary answers: callers need no fallback of their own.
    """
    token = _context.set(RoutingContext(report_reads_on_replica=True, any_reads_on_replica=True))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def reads_from_primary() -> Iterator[None]:
    """Every read in the block goes to the primary: for what is computed once and then shared
    and kept (a cache fill). Read from a replica a little behind, it would undo the clear that
    followed a change and keep the old value for its whole lifetime, for every visitor.
    """
    outer = _context.get()
    inner = RoutingContext()  # nothing on the replica
    token = _context.set(inner)
    try:
        yield
    finally:
        _context.reset(token)
        if outer is not None and inner.wrote:
            outer.wrote = True


def read_alias() -> str:
    """The alias a report should name in ``.using()``: the replica when usable, else the primary."""
    if is_replica_in_use() and replica_state().is_usable:
        return REPLICA_DB_ALIAS
    return DEFAULT_DB_ALIAS


def is_pinned_to_primary(request: HttpRequest) -> bool:
    """Whether ``request`` carries a valid read-your-writes pin (a recent write of this visitor)."""
    window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
    if not window or PIN_COOKIE_NAME not in request.COOKIES:
        return False
    value = request.get_signed_cookie(PIN_COOKIE_NAME, default=None, salt=PIN_COOKIE_SALT, max_age=window)
    return value is not None


def request_context(request: HttpRequest) -> RoutingContext:
    """How reads of ``request`` may be routed, from the request line and cookies alone (no query)."""
    is_safe = request.method in SAFE_METHODS
    is_admin = request.path.startswith(ADMIN_PREFIX)
    return RoutingContext(
        catalog_reads_on_replica=is_safe and not is_admin and not is_pinned_to_primary(request),
        report_reads_on_replica=is_safe,
        page_render=lambda: getattr(request, "page_shell", None) is not None,
        page_fence_position=lambda: request.page_shell.replica_fence(),  # type: ignore[attr-defined]
    )


# --- The router -----------------------------------------------------------------------


class ReplicaRouter:
    """``DATABASE_ROUTERS`` entry (set in settings only when the replica is configured)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        context = _context.get()
        if context is None or context.wrote or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        app = model._meta.app_label
        wanted = (
            context.any_reads_on_replica
            or (context.report_reads_on_replica and app in settings.DATABASE_REPLICA_REPORT_APPS)
            or (context.catalog_reads_on_replica and app in settings.DATABASE_REPLICA_CATALOG_APPS)
        )
        if not wanted or not replica_state().is_usable:
            return DEFAULT_DB_ALIAS
        if context.page_render():
            if context.page_fence_passed is None:
                context.page_fence_passed = replica_has_every_commit_so_far(context.page_fence_position())
            if not context.page_fence_passed:
                return DEFAULT_DB_ALIAS
        context.used_replica = True
        return REPLICA_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        context = _context.get()
        if context is not None:
            context.wrote = True  # this request's later reads, and the visitor's next ones, see it
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Both aliases hold the same rows: a book read from the replica may be linked to a
        # line written on the primary.
        aliases = {DEFAULT_DB_ALIAS, REPLICA_DB_ALIAS}
        if obj1._state.db in aliases and obj2._state.db in aliases:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        # The replica replays the primary's schema changes; it is read-only and never migrated.
        return db == DEFAULT_DB_ALIAS


# --- The middleware -------------------------------------------------------------------

View = Callable[..., HttpResponseBase]


class ReplicaRoutingMiddleware:
    """Tells the router about the request, retries a failed replica read on the primary,
    and pins a visitor who just wrote to the primary (signed cookie).

    In ``MIDDLEWARE`` only when the replica is configured.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        context = request_context(request)
        token = _context.set(context)
        try:
            response = self.get_response(request)
        finally:
            _context.reset(token)
        if (
            request.method not in SAFE_METHODS
            and (context.wrote or response.status_code < 400)
            and not getattr(request, "_routed_view_never_pins", False)
        ):
            pin(response)
        return response

    def process_view(self, request: HttpRequest, view: View, args: Any, kwargs: Any) -> None:
        request._routed_view = (view, args, kwargs)  # type: ignore[attr-defined]  # for the retry below
        request._routed_view_never_pins = getattr(view, NEVER_PINS_ATTRIBUTE, False)  # type: ignore[attr-defined]

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        """A safe request that read from the replica and failed with a connection-level error
        (the replica died mid-request, or cancelled a query replaying a conflicting change)
        is answered again, entirely from the primary. Any other error is left to Django."""
        context = _context.get()
        routed = getattr(request, "_routed_view", None)
        if context is None or routed is None or not context.used_replica or request.method not in SAFE_METHODS:
            return None
        if not isinstance(exception, OperationalError | InterfaceError):
            return None  # a query's own error (bad SQL, a constraint) would fail on the primary too
        replica = connections[REPLICA_DB_ALIAS]
        if not replica.errors_occurred:
            # Django marks the alias whose query or connect raised: here the primary (a query it
            # cancelled, say), which a second run would wait for again only to fail the same way.
            return None
        raw = replica.connection
        if raw is None or raw.closed or getattr(raw, "broken", False):
            mark_replica_down(exception)
            _drop(replica)
        context.catalog_reads_on_replica = context.report_reads_on_replica = context.any_reads_on_replica = False
        logger.warning("replica read failed (%s); answering %s from the primary", _describe(exception), request.path)
        view, args, kwargs = routed
        response: HttpResponseBase = view(request, *args, **kwargs)
        # Django renders a response returned here only when the view itself raised; a
        # TemplateResponse whose render failed (a lazy query in its template) would go out
        # unrendered. Rendering twice is a no-op, so it is rendered here in both cases.
        render = getattr(response, "render", None)
        if callable(render):
            response = render()
        return response


NEVER_PINS_ATTRIBUTE = "never_pins_to_primary"


ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def never_pins(view: ViewFunction) -> ViewFunction:
    """Mark a view whose unsafe requests write nothing the visitor reads back (a RUM beacon).

    Such a POST would otherwise pin its visitor to the primary like any successful write, and
    the beacon every book page sends as it is left would pin nearly every shopper's next page.
    """
    setattr(view, NEVER_PINS_ATTRIBUTE, True)
    return view


def pin(response: HttpResponseBase) -> None:
    """Send this visitor's reads to the primary for ``DATABASE_READ_YOUR_WRITES_SECONDS``."""
    window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
    if not window:
        return
    response.set_signed_cookie(
        PIN_COOKIE_NAME,
        "1",
        salt=PIN_COOKIE_SALT,
        max_age=window,
        httponly=True,
        secure=settings.SESSION_COOKIE_SECURE,
        samesite="Lax",
    )
