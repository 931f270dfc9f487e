"""Shared fixtures. The suite runs against real Postgres and Redis: ``make test`` starts
them and exports ``DATABASE_URL`` / ``REDIS_URL`` before pytest starts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches

from cloudshelf.edge.page_cache import local_pages
from tests.factories import UserFactory

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    raise pytest.UsageError(
        "The test suite runs against real Postgres and Redis. Run `make test`, which starts them "
        "and sets DATABASE_URL and REDIS_URL (see the README)."
    )

assert django_settings.DATABASES  # evaluated here, with DATABASE_REPLICA_URL still set


@pytest.fixture(scope="session", autouse=True)
def _processes_started_by_tests_read_the_primary():
    """This process's settings have read DATABASE_REPLICA_URL (the replica alias its tests use).

    The gunicorns, workers and commands tests start run on the test database, which reaches the
    standby only by streaming a moment later, and the URL names the stack's database there: they
    read from the primary, as a deployment without a replica does. A fixture, not an import-time
    pop: under pytest-xdist the controller imports this file before it starts its workers, which
    must still inherit the variable.
    """
    os.environ.pop("DATABASE_REPLICA_URL", None)


@pytest.fixture(autouse=True)
def _static_files_without_collectstatic(settings):
    """Serve static files from the source folders, as ``runserver`` does, so tests need no collectstatic."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_AUTOREFRESH = True
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 costs ~0.25 s per user by design; tests only need a hasher that works."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_load_shedding(settings):
    """Load shedding only where a test turns it on (tests/resilience): a test sending a dozen requests
    at once from threads would otherwise switch features off for the tests after it."""
    settings.LOAD_SHED_ENABLED = False


@pytest.fixture(autouse=True)
def _search_index_of_this_run(settings):
    """Every test, in any app, uses an OpenSearch index and Redis keys of this test process.

    Global because any test that commits a book change queues a search sync: with the
    default prefix it would write into the dev/benchmark index, or into another engineer's
    concurrent test run. Search tests build and delete their own indices (tests/search).
    """
    settings.SEARCH_INDEX_PREFIX = f"test{os.getpid()}-"


@pytest.fixture(autouse=True)
def _empty_cache(settings):
    """Each test starts and ends with an empty cache of its own.

    The keys carry this process's id, and only they are deleted (not FLUSHDB), so two test
    runs sharing the Redis database — two engineers, or pytest-xdist workers — never empty
    each other's cache halfway through a test.
    """
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"test{os.getpid()}"},
        "pages": {**settings.CACHES["pages"], "KEY_PREFIX": f"test{os.getpid()}-page"},
        "durable": {**settings.CACHES["durable"], "KEY_PREFIX": f"test{os.getpid()}"},
        # Cards and page fragments: keyed by book id and path, which two workers' databases share.
        "fragments": {**settings.CACHES["fragments"], "KEY_PREFIX": f"test{os.getpid()}:fragment"},
    }
    _delete_this_process_keys()
    yield
    _delete_this_process_keys()


def _delete_this_process_keys() -> None:
    for alias in ("default", "durable", "pages", "fragments"):  # kept pages are in "pages" ...
        store = caches[alias]
        if hasattr(store, "delete_pattern"):
            store.delete_pattern("*")
        else:  # a test put this alias in process memory (tests/cart/test_cart_page_cost.py)
            store.clear()
    local_pages.clear()  # ... and in this process's copies


@pytest.fixture(autouse=True)
def _reads_on_the_primary_unless_the_test_declares_the_replica(request, settings):
    """The suite reads from the primary; only tests that declare the replica database route reads.

    pytest-django refuses queries to a database a test did not declare, and a real standby
    replays commits a little later, so routing ordinary tests' reads would make them fail or
    flaky. Tests of the router declare it (``@pytest.mark.django_db(databases=[..., "replica"])``):
    pytest-django then points the alias at the primary's test database on the real standby
    (``TEST["MIRROR"]``, settings) and the router works as in production (tests/ops/test_replica*).
    """
    if "replica" not in settings.DATABASES:
        return
    marker = request.node.get_closest_marker("django_db")
    databases = marker.kwargs.get("databases") or () if marker else ()
    if databases != "__all__" and "replica" not in databases:
        settings.DATABASE_ROUTERS = []


@pytest.fixture
def database_pool_for_threads() -> Iterator[Callable[[int], None]]:
    """Size the primary's connection pool for a test's own crowd of threads.

    In service the pool is as large as gunicorn's threads, so a request never waits for a
    connection and the wait is bounded by one second (settings.DATABASE_POOL_TIMEOUT). A test
    that releases fifty threads at once in one process is not that: with eight connections,
    forty-two threads queue, and on a loaded machine one waits past the second. Calling the
    fixture with the crowd's size gives each thread a connection of its own, as the tests say;
    the pool the rest of the suite uses comes back afterwards.
    """
    from django.db import connection

    pool_options = connection.settings_dict["OPTIONS"].get("pool")
    original = dict(pool_options) if isinstance(pool_options, dict) else None

    def size(threads: int) -> None:
        if original is None:
            return  # no pool: every thread opens its own connection anyway
        connection.close()
        connection.close_pool()
        pool_options.update(max_size=max(threads + 1, original["max_size"]), timeout=30.0)

    yield size
    if original is not None and pool_options != original:
        connection.close()
        connection.close_pool()
        pool_options.clear()
        pool_options.update(original)


@pytest.fixture
def customer(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_customer(db):
    return UserFactory(username="bob")


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client
