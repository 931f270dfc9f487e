"""The fallback's title keys, series and volumes (SQL, search migration 0003) equal catalog.titles' on real titles."""

import csv
import json
from pathlib import Path

import pytest
from django.db import connection

from catalog.titles import title_keys, title_parts
from search.services import _ROW_COLUMNS

pytestmark = pytest.mark.django_db

DEV_CATALOG = Path(__file__).resolve().parents[2] / "data" / "goodbooks-dev.csv"
ODD_TITLES = [
    "Ender\u2019s Game",
    "  The  Odd--Title!! ",
    "Les Misérables (Les Misérables, #1)",
    "Fables (Fables, #1\u20133)",
    "Shadow Kiss (Vampire Academy, #3.5)",
    "Thud! (Discworld, #34; City Watch #7)",
    "(#1)",
    "",
]


def test_sql_and_python_agree_on_every_dev_catalog_title():
    with DEV_CATALOG.open(encoding="utf-8") as rows:
        titles = [row["title"] for row in csv.DictReader(rows)] + ODD_TITLES
    keys_sql = _ROW_COLUMNS["title_keys"].replace("b.title", "t.title")
    number_sql = _ROW_COLUMNS["series_number"].replace("b.title", "t.title")
    series_sql = _ROW_COLUMNS["series"].replace("b.title", "t.title")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.title, {keys_sql}, {number_sql}, {series_sql} "
            "FROM UNNEST(%s::text[]) WITH ORDINALITY AS t(title, n) ORDER BY t.n",
            [titles],
        )
        rows = cursor.fetchall()
    assert len(rows) == len(titles) > 7000
    mismatches = []
    for title, keys, number, series in rows:
        # SQL keeps duplicates and empty keys in its fixed two-element array; Python drops them.
        keys = json.loads(keys) if isinstance(keys, str) else keys
        sql_keys = list(dict.fromkeys(key for key in keys if key))
        parts = title_parts(title)
        if (sql_keys, number, series) != (title_keys(title), parts.number, parts.series):
            mismatches.append((title, sql_keys, title_keys(title), number, parts.number, series, parts.series))
    assert mismatches[:5] == []
