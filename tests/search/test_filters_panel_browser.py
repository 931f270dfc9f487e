"""The "Filters" panel of the results page, in a real browser (Debian's Chromium), JavaScript off."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.lighthouse import LIGHTHOUSE

SCRIPT = Path(__file__).with_name("filters_panel.cjs")
PUPPETEER = LIGHTHOUSE.parents[1] / "puppeteer-core"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (PUPPETEER.exists() and shutil.which("chromium") and shutil.which("node")),
        reason="needs Chromium and Lighthouse's puppeteer-core (scripts/tools.sh chromium lighthouse)",
    ),
]


@pytest.fixture(scope="session")
def static_root_exists():
    """WhiteNoise warns (an error here) when STATIC_ROOT is missing, as on a fresh clone before
    collectstatic; the live server serves static files from the apps' folders anyway."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def test_on_a_phone_the_filters_open_from_a_button_above_the_results_and_stay_a_sidebar_on_wide_screens(
    static_root_exists, live_server, indexed_shelf
):
    run = subprocess.run(
        ["node", str(SCRIPT), str(PUPPETEER), f"{live_server.url}/search/?q=dune"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen["phone"] == {"buttonShown": True, "buttonAboveResults": True, "panelShown": False}
    assert seen["phoneOpen"]["panelShown"] is True
    assert seen["phoneClosed"]["panelShown"] is False
    assert (seen["desktop"]["buttonShown"], seen["desktop"]["panelShown"]) == (False, True)
