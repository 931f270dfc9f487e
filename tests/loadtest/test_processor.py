"""loadtest/processor.js: what a shopper reads on a page, run by Node as Artillery runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

PROCESSOR = Path(__file__).resolve().parents[2] / "loadtest/processor.js"

LISTING = """
<a href="/books/">All</a> <a href="/categories/fiction/">Fiction</a>
<a href="/books/?sort=rating&amp;page=2">2</a> <a href="/books/?page=2000">Last</a>
<li><article class="book-card"><h3><a href="/books/9780000000001/in-stock-book/">A</a></h3>
  <span class="badge badge--in">In stock</span>
  <form><input type="hidden" name="csrfmiddlewaretoken" value="tok123">
  <input type="hidden" name="book_id" value="11"></form>
</article></li>
<li><article class="book-card"><h3><a href="/books/9780000000002/sold-out-book/">B</a></h3>
  <span class="badge badge--out">Out of stock</span>
  <form><input type="hidden" name="book_id" value="22"></form>
</article></li>
<a href="/authors/anna-hadley/">Anna Hadley</a>
"""

SCRIPT = """
const p = require(process.argv[1]);
const html = process.argv[2];
const emitted = [];
const context = {vars: {}};
p.readPage({}, {headers: {"x-cache-status": "HIT"}, body: html}, context, {emit: (...a) => emitted.push(a)}, () => {
  const empty = {vars: {bookUrl: "/books/9780000000009/kept/"}};
  p.readPage({}, {headers: {}, body: "<p>nothing</p>"}, empty, {emit: (...a) => emitted.push(a)}, () => {
    console.log(JSON.stringify({vars: context.vars, kept: empty.vars, emitted,
      books: p.allMatches(p.BOOK, html), pages: p.allMatches(p.PAGE, html), inStock: p.inStockBookIds(html)}));
  });
});
"""


def _run() -> dict:
    node = shutil.which("node")
    assert node is not None, "Node is installed by scripts/tools.sh (make pytest installs lighthouse with it)"
    completed = subprocess.run(
        [node, "-e", SCRIPT, str(PROCESSOR), LISTING], capture_output=True, text=True, timeout=30, check=True
    )
    return json.loads(completed.stdout)


def test_a_page_yields_its_links_and_only_in_stock_books_for_the_cart():
    found = _run()

    assert found["books"] == ["/books/9780000000001/in-stock-book/", "/books/9780000000002/sold-out-book/"]
    assert found["pages"] == ["/books/?sort=rating&page=2", "/books/?page=2000"]
    assert found["inStock"] == ["11"]
    assert found["vars"]["inStockBookId"] == "11"
    assert found["vars"]["categoryUrl"] == "/categories/fiction/"
    assert found["vars"]["authorUrl"] == "/authors/anna-hadley/"
    assert found["vars"]["nextPageUrl"] == "/books/?sort=rating&page=2"  # never the jump to page 2,000
    assert found["vars"]["csrfToken"] == "tok123"


def test_a_page_without_links_keeps_the_last_pick_and_counts_cache_answers():
    found = _run()

    assert found["kept"]["bookUrl"] == "/books/9780000000009/kept/"
    assert found["kept"]["categoryUrl"] == "/books/"
    assert found["emitted"] == [["counter", "cloudshelf.cache.hit", 1], ["counter", "cloudshelf.cache.absent", 1]]
