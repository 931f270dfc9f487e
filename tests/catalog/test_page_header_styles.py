"""The header's username and the in-page link targets: the markup, the CSS rules, and in Chromium.

The defects were visual (a name cut without an ellipsis; "Customer reviews" scrolled under the
sticky header), so besides the rules, a headless Chromium (Debian's ``chromium``, skipped
when absent) lays the real header out and reports what a shopper would see.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import BookFactory, UserFactory

pytestmark = pytest.mark.django_db

STYLESHEET = Path(settings.BASE_DIR) / "static" / "css" / "site.css"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def css_rule(selector: str, *, media: str | None = None) -> dict[str, str]:
    """The declarations of the rule for exactly ``selector`` (inside ``@media media`` when given)."""
    text = re.sub(r"/\*.*?\*/", "", STYLESHEET.read_text(), flags=re.S)
    if media is not None:
        blocks = re.findall(r"@media " + re.escape(media) + r"\s*\{((?:[^{}]*\{[^{}]*\})*)\s*\}", text)
        text = "\n".join(blocks)
    else:
        text = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", text)
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        if [part.strip() for part in selectors.split(",")] == [selector]:
            declarations = (line.split(":", 1) for line in body.split(";") if ":" in line)
            return {name.strip(): value.strip() for name, value in declarations}
    raise AssertionError(f"no rule for {selector!r}")


def test_the_username_has_its_own_box_for_the_ellipsis(client):
    client.force_login(UserFactory(username="shopper3695222", password=None))

    html = client.get("/").content.decode()

    assert '<span class="account-nav__name">shopper3695222</span>' in html


def test_the_ellipsis_sits_on_a_block_with_overflow_hidden_and_a_width():
    name = css_rule(".account-nav__name")

    assert name["display"] == "block"
    assert name["overflow"] == "hidden"
    assert name["text-overflow"] == "ellipsis"
    assert name["white-space"] == "nowrap"
    assert name["max-width"] == "14ch"
    # On the inline-flex parent these had no effect: gone, so nobody trusts them again.
    assert "text-overflow" not in css_rule(".account-nav__user")


def test_in_page_link_targets_stop_below_the_sticky_header():
    assert css_rule(".site-header")["position"] == "sticky"
    assert css_rule("main [id]")["scroll-margin-top"] == "calc(var(--header-height) + var(--space-4))"
    assert css_rule(":root")["--header-height"] == "7.5rem"
    # Phones: the header is not sticky there, so only a little air above the target.
    assert css_rule(".site-header", media="(max-width: 720px)")["position"] == "static"
    assert css_rule("main [id]", media="(max-width: 720px)")["scroll-margin-top"] == "var(--space-4)"


def _measure_in_chromium(tmp_path: Path, html: str, script: str) -> str:
    """Open ``html`` (the stylesheet inlined) in headless Chromium at 1366 by 800; ``script`` sets the title."""
    html = re.sub(r'<link rel="stylesheet"[^>]*>', f"<style>{STYLESHEET.read_text()}</style>", html)
    html = re.sub(r"<script\b.*?</script>", "", html, flags=re.S)  # only ours runs
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", f"<script>{script}</script></body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1366,800", "--dump-dom"]
    result = subprocess.run(
        [str(CHROMIUM), *flags, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = re.search(r"<title>(.*?)</title>", result.stdout, re.S)
    assert found, result.stderr[-2000:]
    return found.group(1)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_in_chromium_a_long_username_ends_in_an_ellipsis_and_reviews_land_below_the_header(client, tmp_path):
    client.force_login(UserFactory(username="shopper3695222-with-a-long-name", password=None))
    book = BookFactory()
    html = client.get(f"{book.get_absolute_url()}").content.decode()
    script = """
      const name = document.querySelector('.account-nav__name');
      const header = document.querySelector('.site-header').getBoundingClientRect();
      document.body.style.minHeight = '5000px';
      document.getElementById('reviews').scrollIntoView();
      const reviews = document.getElementById('reviews').getBoundingClientRect();
      document.title = [getComputedStyle(name).textOverflow, name.scrollWidth > name.clientWidth,
                        Math.round(header.height), reviews.top >= header.bottom].join(' ');
    """

    ellipsis, is_cut, header_height, is_below_header = _measure_in_chromium(tmp_path, html, script).split()

    assert (ellipsis, is_cut, is_below_header) == ("ellipsis", "true", "true")
    assert int(header_height) <= 7.5 * 16  # --header-height covers the real header
