"""The header's search box never lets a visitor type a search longer than the server reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

SEARCH_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "search.js"


def search_input(html: str) -> str:
    match = re.search(r'<input id="site-search"[^>]*>', html)
    assert match, "no header search box"
    return match.group(0)


@pytest.mark.django_db
def test_the_search_box_is_as_long_as_the_longest_search_the_server_reads(client, settings):
    settings.SEARCH_MAX_QUERY_LENGTH = 120

    html = client.get("/books/").content.decode()

    assert 'maxlength="120"' in search_input(html)


@pytest.mark.django_db
def test_a_search_page_keeps_its_cut_query_within_the_box(client):
    html = client.get("/search/", {"q": "dune " * 100}).content.decode()

    box = search_input(html)
    assert 'maxlength="200"' in box
    assert len(re.search(r'value="([^"]*)"', box).group(1)) <= 200


# static/js/search.js run by Node with the few DOM pieces it touches: which URLs it asks for.
_RUN_SEARCH_JS = """
const listeners = {};
const input = {
  value: process.argv[2], maxLength: Number(process.argv[3]), dataset: { autocompleteUrl: "/search/autocomplete" },
  addEventListener: (name, listener) => { listeners[name] = listener; },
  setAttribute() {}, removeAttribute() {},
};
const list = { hidden: true, replaceChildren() {}, append() {} };
const requested = [];
globalThis.document = { getElementById: (id) => (id === "site-search" ? input : list) };
globalThis.fetch = async (url) => { requested.push(url); return { ok: false }; };
globalThis.window = { fetch: globalThis.fetch, setTimeout: (callback) => { callback(); return 1; }, clearTimeout() {} };
require(process.argv[1]);
listeners.input();
setImmediate(() => console.log(JSON.stringify(requested)));
"""


def autocomplete_requests(typed: str, *, max_length: int) -> list[str]:
    """The autocomplete URLs search.js requests after ``typed`` is in a box of ``max_length``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed to run static/js/search.js (apt-get install nodejs)")
    result = subprocess.run(
        [node, "-e", _RUN_SEARCH_JS, str(SEARCH_JS), typed, str(max_length)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.mark.parametrize(("max_length", "expected_length"), [(200, 200), (50, 50), (-1, 200)])
def test_autocomplete_calls_are_cut_to_the_box_length(max_length, expected_length):
    requested = autocomplete_requests("книга " * 1_000, max_length=max_length)

    assert len(requested) == 1
    query = parse_qs(urlsplit(requested[0]).query)["q"][0]
    assert query == ("книга " * 1_000)[:expected_length]
