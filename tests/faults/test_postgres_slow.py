"""Postgres slow: while a page's rebuild waits on the database, every other visitor gets the kept copy at once.

The app (gunicorn) reaches the test database through a fault proxy. "Slow" is the proxy
holding each query until the test lets it go: a query as slow as the test wants, with no
timing in the assertions. The shared Postgres is untouched (its settings, its locks).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from tests.factories import BookFactory, CategoryFactory
from tests.faults.conftest import browser, database_url, wait_for
from tests.faults.proxy import fault_proxy

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FRESH_SECONDS = 1  # PAGE_CACHE_SECONDS of the app under test: copies are due for a rebuild after it


def test_while_postgres_is_slow_kept_pages_are_served_stale_without_asking_it(app_server):
    category = CategoryFactory(name="Deserts")
    dune = BookFactory(title="Dune", category=category)
    paths = [dune.get_absolute_url(), category.get_absolute_url(), "/"]
    database = connection.settings_dict
    with fault_proxy(database["HOST"], int(database["PORT"])) as postgres:
        server = app_server(DATABASE_URL=database_url(port=postgres.port), PAGE_CACHE_SECONDS=str(FRESH_SECONDS))
        visitor = browser(server)
        assert [visitor.get(server.url + path).headers["X-Page-Cache"] for path in paths] == ["miss"] * 3
        time.sleep(FRESH_SECONDS + 0.2)  # every copy is due for a rebuild, well inside its stale window

        postgres.set_mode("hang")
        with ThreadPoolExecutor(max_workers=len(paths)) as pool:
            # The first visitor of each page rebuilds it, and waits on Postgres.
            rebuilds = [pool.submit(browser(server).get, server.url + path) for path in paths]
            wait_for(lambda: postgres.held_upstream >= len(paths))
            held = postgres.held_upstream
            others = [browser(server).get(server.url + path) for path in paths for _ in range(3)]
            assert postgres.held_upstream == held  # they asked Postgres nothing
            assert not any(rebuild.done() for rebuild in rebuilds)

            assert [page.status_code for page in others] == [200] * 9
            assert {page.headers["X-Page-Cache"] for page in others} == {"stale"}
            assert {page.headers["Warning"] for page in others} == {'110 - "Response is Stale"'}
            assert all("Dune" in page.text for page in others)

            postgres.set_mode("pass")
            rebuilt = [rebuild.result() for rebuild in rebuilds]
        assert [page.status_code for page in rebuilt] == [200] * 3
        assert [page.headers["X-Page-Cache"] for page in rebuilt] == ["miss"] * 3
        assert [visitor.get(server.url + path).headers["X-Page-Cache"] for path in paths] == ["hit"] * 3
        server.stop()  # while its database connections can still close cleanly through the proxy
