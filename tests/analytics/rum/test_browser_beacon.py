"""The beacon end to end: Debian's Chromium loads the live site's book pages and leaves them, and
a real Celery worker writes what the pages sent, from the buffer to Postgres.

Not skipped when Chromium is missing: ``make pytest`` installs it (scripts/tools.sh chromium
lighthouse), and a test that quietly does not run would prove nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from analytics.models import BookDay, RumBeacon
from analytics.rum.services import RUM_STREAM
from bench.lighthouse import LIGHTHOUSE
from tests.analytics.rum.conftest import pending
from tests.factories import BookFactory
from tests.workers import real_worker

SCRIPT = Path(__file__).with_name("rum_beacon.cjs")
PUPPETEER = LIGHTHOUSE.parents[1] / "puppeteer-core"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queued_flushes():
    """Here the flushes go to the real worker (overrides the package's fixture that holds them back)."""


@pytest.fixture
def worker(settings):
    """A real ``celery -A cloudshelf worker`` on the test database and this test's Redis keys."""
    with real_worker("rum", {"CACHE_KEY_PREFIX": settings.CACHES["durable"]["KEY_PREFIX"]}) as log:
        yield log


@pytest.fixture(scope="session")
def static_root_exists():
    """WhiteNoise warns (an error here) when STATIC_ROOT is missing, as on a fresh clone."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def visit_in_chromium(*urls: str) -> dict:
    """Load and leave each page in headless Chromium; the errors the pages raised."""
    # Installed by scripts/tools.sh chromium lighthouse (make pytest runs it): missing is a failure, not a skip.
    assert shutil.which("chromium"), "Debian's Chromium is missing: scripts/tools.sh chromium"
    assert shutil.which("node"), "Node is missing: scripts/tools.sh lighthouse"
    assert PUPPETEER.exists(), "Lighthouse's puppeteer-core is missing: scripts/tools.sh lighthouse"
    run = subprocess.run(
        ["node", str(SCRIPT), str(PUPPETEER), *urls], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def eventually(check, seconds: float = 30) -> None:
    """Wait until ``check()`` holds: sendBeacon goes as the page goes, and the worker flushes 5 s after a burst."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert check()


def test_a_sampled_book_page_stores_its_timings_and_counts_a_view(static_root_exists, live_server, worker, settings):
    settings.RUM_SAMPLE_RATE = 1
    book = BookFactory(title="Dune")

    seen = visit_in_chromium(f"{live_server.url}{book.get_absolute_url()}")

    assert seen["errors"] == []
    eventually(lambda: RumBeacon.objects.exists() and BookDay.objects.exists())
    worker.assert_alive()
    row = RumBeacon.objects.get()
    assert (row.route_name, row.route_class, row.sample_rate) == ("catalog:book", "page", 1.0)
    # Plausible numbers from a page on loopback: in order, and well under the ten-minute bound.
    assert 0 < row.ttfb_ms <= row.dom_ready_ms <= row.load_ms < 30_000
    assert 0 < row.lcp_ms < 30_000
    assert row.cls is not None
    assert 0 <= row.cls < 1
    assert row.inp_ms is None or 0 <= row.inp_ms < 30_000
    assert row.navigation_type == "navigate"
    assert row.effective_connection_type in {"", "slow-2g", "2g", "3g", "4g"}
    assert BookDay.objects.values_list("book_id", "views").get() == (book.pk, 1)


def test_with_sampling_off_a_book_page_counts_its_view_and_sends_no_timings(
    static_root_exists, live_server, worker, settings
):
    settings.RUM_SAMPLE_RATE = 0
    book = BookFactory(title="Emma")

    seen = visit_in_chromium(f"{live_server.url}{book.get_absolute_url()}", f"{live_server.url}/books/")

    assert seen["errors"] == []
    # The book page sends its view; the list page has nothing to send.
    eventually(lambda: BookDay.objects.exists())
    assert pending(RUM_STREAM) == []
    assert RumBeacon.objects.count() == 0
    assert BookDay.objects.values_list("book_id", "views").get() == (book.pk, 1)
