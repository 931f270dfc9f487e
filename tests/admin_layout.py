"""Measure an admin changelist as headless Chromium lays it out on a 1366 x 768 laptop screen.

The page comes from the test client; its /static/ URLs are pointed at the source files and it
is opened from disk, so no server runs. A script added to the page writes what it measured
into the title, which ``--dump-dom`` hands back.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.contrib.staticfiles import finders

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

_MEASURE = """<script>
window.addEventListener("load", () => {
  const results = document.querySelector("#changelist .results");
  const last = [...document.querySelectorAll("#result_list thead th")].pop().getBoundingClientRect();
  document.title = JSON.stringify({
    viewport: window.innerWidth,
    navSidebarOpen: document.querySelector("#nav-sidebar").getBoundingClientRect().width > 0,
    overflow: results.scrollWidth - results.clientWidth,
    lastColumnRight: Math.ceil(last.right),
    listRight: Math.floor(results.getBoundingClientRect().right),
  });
});
</script>"""


@dataclass(frozen=True)
class ChangelistLayout:
    viewport: int  # the window's inner width, px
    nav_sidebar_open: bool  # the admin's app list on the left (open by default on a wide screen)
    overflow: int  # how far the list scrolls sideways inside its box; 0 when every column is in view
    last_column_right: int
    list_right: int


def _page_with_local_static(html: str) -> str:
    def local(match: re.Match[str]) -> str:
        found = finders.find(match.group(2))
        return f'{match.group(1)}="{Path(str(found)).as_uri()}"' if found else match.group(0)

    return re.sub(r'(href|src)="/static/([^"?]+)"', local, html)


def changelist_layout(html: str, folder: Path, *, width: int = 1366, height: int = 768) -> ChangelistLayout:
    """Lay ``html`` (a changelist page) out in Chromium at ``width`` x ``height`` and measure it."""
    assert CHROMIUM is not None, "needs Chromium (apt install chromium)"
    page = folder / "changelist.html"
    page.write_text(_page_with_local_static(html).replace("</body>", f"{_MEASURE}</body>"))
    window = ["--headless", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]
    dom = subprocess.run(
        [CHROMIUM, *window, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found = re.search(r"<title>(.*?)</title>", dom)
    assert found is not None, dom[:500]
    measured = json.loads(found.group(1).replace("&quot;", '"'))
    return ChangelistLayout(
        viewport=measured["viewport"],
        nav_sidebar_open=measured["navSidebarOpen"],
        overflow=measured["overflow"],
        last_column_right=measured["lastColumnRight"],
        list_right=measured["listRight"],
    )
