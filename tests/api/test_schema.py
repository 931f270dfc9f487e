"""The OpenAPI contract: it validates, it is served with its docs, and the live API keeps it.

The last test starts a real gunicorn (two workers) on a free loopback port against the
test database and runs schemathesis against the live schema twice, seeded and bounded:
positive (what the schema allows, including stateful cart → order sequences) and negative
(values and types it forbids), checking "no 5xx", "every answer matches the schema
(status, body, headers)" and, for negative input, "refused with a 4xx". Every exchange is
recorded (HAR) and counted; the counts are printed and recorded as test properties.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from catalog.models import Book
from partners.plans import Plan
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCHEMATHESIS_SEED = 20261126
# Examples per operation and phase, per mode: the negative run is cheap (most answers are a
# 400 before any query) and is where new bad inputs come from; both runs take about 40 s here.
SCHEMATHESIS_EXAMPLES = {"positive": 25, "negative": 60}
MODES = ("positive", "negative")


def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    assert "openapi: 3.0.3" in text
    for path in ("/api/v1/books/", "/api/v1/books/availability/", "/api/v1/carts/{cart_id}/order/", "/api/v1/orders/"):
        assert f"{path}:" in text


def test_every_operation_documents_an_example_answer():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    without = [
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if not any(
            "examples" in media
            for status, response in operation["responses"].items()
            if status.startswith("2")
            for media in response.get("content", {}).values()
        )
    ]

    assert without == []


@pytest.mark.django_db
def test_the_schema_and_docs_are_served_without_a_key():
    schema = Client().get("/api/v1/schema/?format=json")
    docs = Client().get("/api/docs/")

    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "CloudShelf Partner API"
    assert docs.status_code == 200
    # Self-hosted Swagger UI: the page loads its assets from our static files, never a CDN.
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    bundle = Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    bundle.close()  # a file response: close it, or the open file leaks into the next test
    assert bundle.status_code == 200


def schema_operations() -> list[tuple[str, str]]:
    """Every (method, path) operation in the schema as generated now."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [(method, path) for path, item in schema["paths"].items() for method in item]


def _catalog_for_schemathesis() -> None:
    fiction = CategoryFactory(name="Fiction", slug="fiction")
    fantasy = CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)
    authors = [AuthorFactory() for _ in range(3)]
    for index in range(12):
        book = BookFactory(
            category=fantasy if index % 2 else fiction,
            authors=[authors[index % 3]],
            price=Decimal("9.99") + index,
            popularity=index % 4,
            stock=index % 5,
        )
        if index % 3 == 0:
            ReviewFactory(book=book)


@pytest.fixture
def search_index(settings):
    """This test's books index in OpenSearch (when there is one), deleted afterwards."""
    if os.environ.get("OPENSEARCH_URL"):
        from search.services import search_index_rebuild, search_rows_refresh

        search_rows_refresh(book_ids=list(Book.objects.values_list("pk", flat=True)))
        search_index_rebuild()
    yield
    if os.environ.get("OPENSEARCH_URL"):
        from opensearchpy import OpenSearch

        OpenSearch(hosts=[os.environ["OPENSEARCH_URL"]], timeout=30).indices.delete(
            index=f"{settings.SEARCH_INDEX_PREFIX}books*", ignore_unavailable=True
        )


@pytest.fixture
def catalog_for_schemathesis(transactional_db):
    _catalog_for_schemathesis()


@dataclass(frozen=True)
class SchemathesisRun:
    """One schemathesis run: its console output and the HTTP exchanges it recorded (HAR)."""

    mode: str
    returncode: int
    output: str
    statuses: list[int]

    @property
    def server_errors(self) -> list[int]:
        return [status for status in self.statuses if status >= 500]


def run_schemathesis(base_url: str, raw_key: str, *, mode: str, directory: Path) -> SchemathesisRun:
    """schemathesis in ``mode`` (positive: what the schema allows; negative: values and types it
    forbids), seeded and bounded by examples per operation, recording every exchange in a HAR file."""
    har = directory / f"{mode}.har"
    checks = "not_a_server_error,status_code_conformance,response_schema_conformance,response_headers_conformance"
    if mode == "negative":
        checks += ",negative_data_rejection"  # what the schema forbids must be refused (4xx)
    run = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            f"{base_url}/api/v1/schema/?format=json",
            "--header",
            f"Authorization: Bearer {raw_key}",
            "--mode",
            mode,
            "--checks",
            checks,
            "--phases",
            "examples,coverage,fuzzing,stateful" if mode == "positive" else "coverage,fuzzing",
            "--max-examples",
            str(SCHEMATHESIS_EXAMPLES[mode]),
            "--seed",
            str(SCHEMATHESIS_SEED),
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--generation-with-security-parameters",
            "false",
            "--report",
            "har",
            "--report-har-path",
            str(har),
            "--no-color",
            "--output-truncate",
            "true",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=180,
    )
    entries = json.loads(har.read_text())["log"]["entries"] if har.exists() else []
    return SchemathesisRun(
        mode=mode,
        returncode=run.returncode,
        output=run.stdout[-6000:] + run.stderr[-2000:],
        statuses=[int(entry["response"]["status"]) for entry in entries],
    )


@pytest.mark.slow
def test_schemathesis_positive_and_negative_finds_no_server_errors_and_no_schema_violations(
    catalog_for_schemathesis, search_index, live_server_url, tmp_path, record_property
):
    raw_key = issue_key(PartnerFactory(plan=Plan.INTERNAL)).raw_key
    operations = len(schema_operations())

    runs = [run_schemathesis(live_server_url, raw_key, mode=mode, directory=tmp_path) for mode in MODES]

    for run in runs:
        assert run.returncode == 0, run.output
        assert f"Selected: {operations}/{operations}" in run.output, run.output
        assert run.server_errors == [], run.output
        record_property(f"schemathesis_{run.mode}_requests", len(run.statuses))
        print(f"schemathesis {run.mode}: {len(run.statuses)} requests, {len(run.server_errors)} 5xx")
    positive, negative = runs
    # Both runs really exercised the API, and the negative one was mostly refused, as it should be.
    assert len(positive.statuses) >= 500, positive.output
    assert len(negative.statuses) >= 500, negative.output
    assert sum(400 <= status < 500 for status in negative.statuses) > len(negative.statuses) / 2, negative.output
