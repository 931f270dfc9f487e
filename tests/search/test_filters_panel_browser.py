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


def test_on_a_phone_the_filters_open_from_a_button_above_the_results_and_stay_a_sidebar_on_wide_screens(
    live_server, indexed_shelf
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
