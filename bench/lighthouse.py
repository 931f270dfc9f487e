"""Lighthouse's accessibility score of every kind of public page, against a running server.

    python -m bench.lighthouse --base-url http://127.0.0.1:8000 [--report-dir DIR]

``make lighthouse`` (``scripts/lighthouse.sh``) installs what this needs, starts the embedded
default on a free loopback port with a small catalog, and runs it. The pages are found by
following the site's own links from the home page (a book, its category and author), so
nothing depends on which books a seed drew; the cart with a line is the real one, filled
through its add form, and Lighthouse is given that session's cookie.

Only the accessibility category is run (the others need a production-shaped stack to mean
anything). Each page's score is printed with the audits that failed and the elements they
name; the exit status is 1 when any page scores below 100 (or could not be audited).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# Installed by `scripts/tools.sh lighthouse` (pinned there), never a browser of its own.
LIGHTHOUSE = ROOT / "var" / "tools" / "lighthouse" / "node_modules" / ".bin" / "lighthouse"
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage"
PASSING_SCORE = 100
# Lighthouse gives an audit that does not apply, or that it cannot decide, no score.
_SCORED_MODES = {"binary", "numeric"}


@dataclass(frozen=True)
class FailingAudit:
    """An accessibility audit a page failed, and the elements it names (selectors or snippets)."""

    id: str
    title: str
    elements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PageScore:
    """One page's accessibility score (None when Lighthouse gave none) and its failing audits."""

    name: str
    url: str
    score: int | None
    failing: list[FailingAudit] = field(default_factory=list)
    error: str = ""

    @property
    def is_passing(self) -> bool:
        return self.score is not None and self.score >= PASSING_SCORE


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    cookie: str = ""


def parse_report(report: dict[str, Any]) -> tuple[int | None, list[FailingAudit]]:
    """The accessibility score (0 to 100) of a Lighthouse JSON report and the audits it failed."""
    category = report.get("categories", {}).get("accessibility") or {}
    raw_score = category.get("score")
    score = None if raw_score is None else round(raw_score * 100)
    audits = report.get("audits", {})
    failing = []
    for ref in category.get("auditRefs", []):
        audit = audits.get(ref.get("id"), {})
        if audit.get("scoreDisplayMode") not in _SCORED_MODES or audit.get("score") is None or audit["score"] >= 1:
            continue
        items = (audit.get("details") or {}).get("items") or []
        elements = [_element_of(item) for item in items]
        failing.append(FailingAudit(id=audit["id"], title=audit.get("title", ""), elements=[e for e in elements if e]))
    return score, failing


def _element_of(item: dict[str, Any]) -> str:
    node = item.get("node") or {}
    text = node.get("selector") or node.get("snippet") or ""
    explanation = (node.get("explanation") or "").splitlines()
    return f"{text} — {explanation[1].strip()}" if text and len(explanation) > 1 else text


def format_score(page: PageScore) -> str:
    """``PASS 100 home  /`` and, under a page below 100, one line per failing audit and element."""
    status = "PASS" if page.is_passing else "FAIL"
    shown = "—" if page.score is None else str(page.score)
    lines = [f"{status} {shown:>3}  {page.name:<24} {page.url}"]
    if page.error:
        lines.append(f"          error: {page.error}")
    for audit in page.failing:
        lines.append(f"          {audit.id}: {audit.title}")
        lines.extend(f"            {element}" for element in audit.elements[:5])
    return "\n".join(lines)


# --- The pages ----------------------------------------------------------------------------


def _opener() -> tuple[urllib.request.OpenerDirector, CookieJar]:
    jar = CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar)), jar


def _get(opener: urllib.request.OpenerDirector, url: str) -> str:
    with opener.open(url, timeout=30) as response:
        return str(response.read().decode())


def _first_link(html: str, pattern: str) -> str:
    found = re.search(rf'href="({pattern})"', html)
    if not found:
        raise LookupError(f"no link matching {pattern!r}")
    return found.group(1).replace("&amp;", "&")


def public_pages(base_url: str) -> list[Page]:
    """Every kind of public page, found through the site's links; the cart with a line added for real."""
    opener, jar = _opener()
    home = _get(opener, base_url + "/")
    book_path = _first_link(home, r"/books/\d{13}/[^\"?#]+/")
    book = _get(opener, base_url + book_path)
    pages = [
        Page("home", "/"),
        Page("book list", "/books/"),
        Page("category", _first_link(book, r"/categories/[^\"?#]+/")),
        Page("author", _first_link(book, r"/authors/[^\"?#]+/")),
        Page("book page", book_path),
        Page("search with facets", "/search/?q=the"),
        Page("search, no results", "/search/?q=zzqxv+wvvkq"),
        Page("cart, empty", "/cart/"),
        Page("log in", "/accounts/login/"),
        Page("sign up", "/accounts/signup/"),
        Page("404", "/no-such-page/"),
    ]
    pages.insert(8, Page("cart, with a line", "/cart/", cookie=_cookie_with_a_cart_line(opener, jar, base_url, book)))
    return pages


def _cookie_with_a_cart_line(opener: urllib.request.OpenerDirector, jar: CookieJar, base_url: str, book: str) -> str:
    """Add the book to a new visitor's cart through its form; that visitor's Cookie header."""
    form = re.search(r'<form[^>]*action="/cart/add/"[^>]*>(.*?)</form>', book, re.DOTALL)
    if not form:
        raise LookupError("the book page has no add-to-cart form")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))
    request = urllib.request.Request(
        base_url + "/cart/add/",
        data=urllib.parse.urlencode(fields).encode(),
        # What a browser sends: a visitor without a session posts the shared page's form
        # without a token, proven same-origin (cloudshelf.edge.http.csrf_token_optional_without_session).
        headers={"Referer": base_url + "/", "Origin": base_url, "Sec-Fetch-Site": "same-origin"},
        method="POST",
    )
    opener.open(request, timeout=30).close()
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


# --- Running Lighthouse ----------------------------------------------------------------------


def audit_page(
    page: Page, base_url: str, *, lighthouse: Path, report_dir: Path | None, desktop: bool = False
) -> PageScore:
    """Run Lighthouse (accessibility only) on ``page`` in Debian's Chromium; its score and failures.

    As a phone (Lighthouse's default) or, with ``desktop``, a wide screen: the search page's
    facets are a panel on one and a sidebar on the other.
    """
    url = base_url + page.path
    command = [
        str(lighthouse),
        url,
        *(["--preset=desktop"] if desktop else []),
        "--only-categories=accessibility",
        "--output=json",
        "--output-path=stdout",
        "--quiet",
        f"--chrome-flags={CHROME_FLAGS}",
        # The 404 page is a page shoppers see too; Lighthouse refuses an error status otherwise.
        "--ignore-status-code",
    ]
    if page.cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": page.cookie}))
    env = os.environ | {"CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, check=False)
    if finished.returncode != 0 or not finished.stdout.strip():
        return PageScore(page.name, url, None, error=(finished.stderr.strip().splitlines() or ["no report"])[-1])
    report = json.loads(finished.stdout)
    if report_dir:
        slug = re.sub(r"[^a-z0-9]+", "-", page.name.lower()).strip("-")
        (report_dir / f"{slug}.json").write_text(finished.stdout)
    score, failing = parse_report(report)
    runtime_error = (report.get("runtimeError") or {}).get("message", "")
    return PageScore(page.name, url, score, failing, error=runtime_error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True, help="the running server, e.g. http://127.0.0.1:8000")
    parser.add_argument("--lighthouse", type=Path, default=LIGHTHOUSE, help="the lighthouse executable")
    parser.add_argument("--report-dir", type=Path, help="keep each page's JSON report here")
    parser.add_argument("--desktop", action="store_true", help="audit as a wide screen (default: a phone)")
    options = parser.parse_args(argv)
    base_url = options.base_url.rstrip("/")
    if options.report_dir:
        options.report_dir.mkdir(parents=True, exist_ok=True)
    try:
        pages = public_pages(base_url)
    except (LookupError, urllib.error.URLError) as error:
        print(f"lighthouse: could not find the pages to audit: {error}", file=sys.stderr)
        return 2
    scores = []
    for page in pages:
        scores.append(
            audit_page(
                page, base_url, lighthouse=options.lighthouse, report_dir=options.report_dir, desktop=options.desktop
            )
        )
        print(format_score(scores[-1]), flush=True)
    passing = sum(score.is_passing for score in scores)
    device = "desktop" if options.desktop else "phone"
    print(f"lighthouse: accessibility {PASSING_SCORE} on {passing} of {len(scores)} pages ({device})")
    return 0 if passing == len(scores) else 1


if __name__ == "__main__":
    sys.exit(main())
