"""The database router's decisions, table by table (no query runs; tests/ops/test_replica_standby.py
runs the same rules against the real standby)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from django.core.signing import b62_encode, get_cookie_signer
from django.db import router as django_router
from django.db import transaction
from django.test import RequestFactory

from cloudshelf import db_router
from cloudshelf.db_router import (
    PIN_COOKIE_NAME,
    PIN_COOKIE_SALT,
    ReplicaRouter,
    ReplicaState,
    reads_from_replica,
    request_context,
)

ROUTER = ReplicaRouter()
UP = ReplicaState(is_up=True, lag_seconds=0.2, checked_at=float("inf"))
BEHIND = ReplicaState(is_up=True, lag_seconds=60.0, checked_at=float("inf"))
DOWN = ReplicaState(is_up=False, lag_seconds=None, checked_at=float("inf"), error="connection refused")


def model(app_label: str) -> type:
    from django.apps import apps

    return next(iter(apps.get_app_config(app_label).get_models()))


def pin_cookie(*, signed_seconds_ago: float = 0) -> str:
    """A read-your-writes pin as the middleware signs it, signed ``signed_seconds_ago``."""
    signer = get_cookie_signer(salt=PIN_COOKIE_NAME + PIN_COOKIE_SALT)
    signer.timestamp = lambda: b62_encode(int(time.time() - signed_seconds_ago))  # type: ignore[method-assign]
    return signer.sign("1")


@pytest.fixture
def replica(monkeypatch):
    """Set what the router believes about the replica."""

    def believe(state: ReplicaState) -> None:
        monkeypatch.setattr(db_router, "replica_state", lambda: state)

    believe(UP)
    return believe


def decide(method: str, path: str, app: str, *, cookies: dict[str, str] | None = None, wrote: bool = False) -> str:
    request = RequestFactory().generic(method, path)
    request.COOKIES.update(cookies or {})
    context = request_context(request)
    context.wrote = wrote
    token = db_router._context.set(context)
    try:
        return ROUTER.db_for_read(model(app))
    finally:
        db_router._context.reset(token)


@pytest.mark.parametrize(
    ("method", "path", "app", "expected"),
    [
        # Anonymous catalog browsing: the replica.
        ("GET", "/books/", "catalog", "replica"),
        ("HEAD", "/books/9780000000000/dune/", "catalog", "replica"),
        ("GET", "/search/?q=dune", "search", "replica"),
        ("GET", "/api/v1/books/", "catalog", "replica"),
        # Reports: the replica, in the admin too.
        ("GET", "/admin/analytics/searchlog/", "analytics", "replica"),
        # Writes and what comes with them: the primary.
        ("POST", "/cart/add/", "catalog", "default"),
        ("PUT", "/api/v1/carts/1/", "catalog", "default"),
        ("DELETE", "/api/v1/carts/1/", "catalog", "default"),
        ("OPTIONS", "/books/", "catalog", "default"),
        ("POST", "/admin/analytics/searchlog/", "analytics", "default"),
        # The admin edits the catalog: fresh rows.
        ("GET", "/admin/catalog/book/", "catalog", "default"),
        # Accounts, sessions, the cart, partners: transactional, always the primary.
        ("GET", "/books/", "auth", "default"),
        ("GET", "/books/", "sessions", "default"),
        ("GET", "/cart/", "cart", "default"),
        ("GET", "/api/v1/books/", "partners", "default"),
    ],
)
def test_reads_are_routed_by_method_path_and_app(replica, method, path, app, expected):
    assert decide(method, path, app) == expected


def test_a_visitor_who_just_wrote_reads_from_the_primary(replica):
    assert decide("GET", "/books/", "catalog", cookies={PIN_COOKIE_NAME: pin_cookie()}) == "default"


@pytest.mark.parametrize(
    "cookie",
    ["", "1", "garbage:garbage:garbage", "x" * 10_000, "1:1kxjlc:" + "A" * 43, "\u2603:\x00:'; DROP TABLE x"],
)
def test_a_forged_or_mangled_pin_is_ignored(replica, cookie):
    assert decide("GET", "/books/", "catalog", cookies={PIN_COOKIE_NAME: cookie}) == "replica"


def test_a_pin_ends_after_the_read_your_writes_window(replica, settings):
    expired = pin_cookie(signed_seconds_ago=settings.DATABASE_READ_YOUR_WRITES_SECONDS + 2)
    assert decide("GET", "/books/", "catalog", cookies={PIN_COOKIE_NAME: expired}) == "replica"
    recent = pin_cookie(signed_seconds_ago=settings.DATABASE_READ_YOUR_WRITES_SECONDS - 2)
    assert decide("GET", "/books/", "catalog", cookies={PIN_COOKIE_NAME: recent}) == "default"


def test_no_pin_when_the_window_is_zero(replica, settings):
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = 0
    assert decide("GET", "/books/", "catalog", cookies={PIN_COOKIE_NAME: pin_cookie()}) == "replica"


def test_reads_after_a_write_in_the_same_request_go_to_the_primary(replica):
    assert decide("GET", "/books/", "catalog", wrote=True) == "default"


def test_a_write_marks_the_request(replica):
    request = RequestFactory().get("/books/")
    context = request_context(request)
    token = db_router._context.set(context)
    try:
        assert ROUTER.db_for_write(model("analytics")) == "default"
        assert ROUTER.db_for_read(model("catalog")) == "default"
    finally:
        db_router._context.reset(token)
    assert context.wrote is True


@pytest.mark.parametrize(("state", "expected"), [(UP, "replica"), (BEHIND, "default"), (DOWN, "default")])
def test_a_replica_behind_the_bound_or_down_is_not_read(replica, state, expected):
    replica(state)
    assert decide("GET", "/books/", "catalog") == expected


def test_the_lag_bound_is_inclusive_and_read_at_each_decision(replica, settings):
    replica(ReplicaState(is_up=True, lag_seconds=5.0, checked_at=float("inf")))
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 5.0
    assert decide("GET", "/books/", "catalog") == "replica"
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 4.9
    assert decide("GET", "/books/", "catalog") == "default"


@pytest.mark.parametrize(("fence_passed", "expected"), [(True, "replica"), (False, "default")])
def test_a_page_rendered_for_the_page_cache_reads_from_the_replica_only_past_the_fence(
    replica, monkeypatch, fence_passed, expected
):
    checks = []
    monkeypatch.setattr(
        db_router, "replica_has_every_commit_so_far", lambda position: checks.append(position) or fence_passed
    )
    request = RequestFactory().get("/books/")
    context = request_context(request)
    token = db_router._context.set(context)
    try:
        request.page_shell = SimpleNamespace(replica_fence=lambda: 123456)
        assert [ROUTER.db_for_read(model("catalog")) for _ in range(3)] == [expected] * 3
        del request.page_shell
        assert ROUTER.db_for_read(model("catalog")) == "replica"  # not a kept page: no fence
    finally:
        db_router._context.reset(token)
    assert checks == [123456]  # once per request, at the position the shell's sequence was noted at


@pytest.mark.django_db
def test_reads_inside_a_transaction_on_the_primary_stay_there(replica):
    request = RequestFactory().get("/books/")
    token = db_router._context.set(request_context(request))
    try:
        with transaction.atomic():
            assert ROUTER.db_for_read(model("catalog")) == "default"
    finally:
        db_router._context.reset(token)


def test_outside_any_request_reads_go_to_the_primary(replica):
    # Celery tasks and commands run right after the commit that queued them.
    assert ROUTER.db_for_read(model("catalog")) == "default"
    assert ROUTER.db_for_read(model("analytics")) == "default"


def test_report_code_opts_in_to_the_replica(replica):
    with reads_from_replica():
        assert ROUTER.db_for_read(model("analytics")) == "replica"
        assert ROUTER.db_for_read(model("cart")) == "replica"
        assert ROUTER.db_for_write(model("analytics")) == "default"
        assert ROUTER.db_for_read(model("analytics")) == "default"  # after its own write
    replica(DOWN)
    with reads_from_replica():
        assert ROUTER.db_for_read(model("analytics")) == "default"
    assert db_router.read_alias() == "default"


@pytest.mark.parametrize(("alias", "expected"), [("default", True), ("replica", False), ("other", False)])
def test_migrations_run_only_on_the_primary(settings, alias, expected):
    settings.DATABASE_ROUTERS = ["cloudshelf.db_router.ReplicaRouter"]  # as settings.py installs it
    assert ROUTER.allow_migrate(alias, "catalog", model_name="book") is expected
    assert django_router.allow_migrate(alias, "catalog", model_name="book") is expected


def test_rows_of_either_alias_may_be_related():
    from catalog.models import Book

    on_primary, on_replica, elsewhere = Book(), Book(), Book()
    on_primary._state.db, on_replica._state.db, elsewhere._state.db = "default", "replica", "other"
    assert ROUTER.allow_relation(on_primary, on_replica) is True
    assert ROUTER.allow_relation(on_primary, elsewhere) is None


def test_the_admin_prefix_is_where_the_admin_is_mounted():
    from django.urls import reverse

    assert reverse("admin:index") == db_router.ADMIN_PREFIX


def test_a_failure_seen_while_a_lag_check_runs_is_not_undone_by_that_check(monkeypatch):
    """gthread workers: one thread measures the replica (up) while another's replica query
    fails; the measure, begun before the failure, must not bring the replica back."""
    db_router.forget_replica_state()
    measuring, failed = threading.Event(), threading.Event()

    def measure_that_sees_the_replica_up() -> ReplicaState:
        measuring.set()
        failed.wait(5)
        return ReplicaState(is_up=True, lag_seconds=0.0, checked_at=time.monotonic())

    monkeypatch.setattr(db_router, "measure_replica", measure_that_sees_the_replica_up)
    try:
        checker = threading.Thread(target=db_router.replica_state)
        checker.start()
        assert measuring.wait(5)
        db_router.mark_replica_down("terminating connection due to administrator command")
        failed.set()
        checker.join(5)
        assert not db_router.replica_state().is_up
    finally:
        db_router.forget_replica_state()
