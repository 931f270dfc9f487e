"""Read the report pages as staff read them: each section's table as rows of cell texts."""

from __future__ import annotations

import html
import re


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def section_html(page: str, key: str) -> str:
    found = re.search(
        rf'<section[^>]*aria-labelledby="(?:section|window)-{re.escape(key)}">(.*?)</section>', page, re.S
    )
    assert found, f"no section {key}"
    return found.group(1)


def table_rows(fragment: str) -> list[list[str]]:
    """Every row (header, body, totals) of the tables in ``fragment``, cells as plain text."""
    return [
        [_text(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", fragment, re.S)
    ]


def section_rows(page: str, key: str) -> list[list[str]]:
    return table_rows(section_html(page, key))


def errors(page: str) -> list[str]:
    return [_text(item) for item in re.findall(r'<ul class="errorlist[^"]*">(.*?)</ul>', page, re.S)]
