"""The per-request EMF line, read back as CloudWatch Logs reads it."""

from __future__ import annotations

import orjson
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analytics.metrics.emf import emf_line
from tests.factories import BookFactory

CLOUDWATCH_MAX_DIMENSIONS = 30
CLOUDWATCH_MAX_METRICS = 100


def assert_valid_emf(document: dict) -> None:
    """What CloudWatch requires of an EMF document (the specification's validation rules)."""
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int)
    assert metadata["Timestamp"] > 1_600_000_000_000
    for directive in metadata["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str)
        assert directive["Namespace"]
        assert len(directive["Metrics"]) <= CLOUDWATCH_MAX_METRICS
        for metric in directive["Metrics"]:
            value = document[metric["Name"]]
            assert type(value) in (int, float), metric["Name"]  # a number, and not a boolean
        for dimension_set in directive["Dimensions"]:
            assert len(dimension_set) <= CLOUDWATCH_MAX_DIMENSIONS
            for key in dimension_set:
                assert isinstance(document[key], str), key
                assert document[key], key


@pytest.mark.django_db
def test_a_request_writes_one_emf_line_cloudwatch_accepts(emf_lines):
    book = BookFactory()
    response = Client().get(book.get_absolute_url())
    assert response.status_code == 200
    [line] = emf_lines.lines
    assert_valid_emf(line)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "CloudShelf/Performance"
    assert directive["Dimensions"] == [["RouteClass"], ["RouteClass", "Route"]]
    assert [metric["Name"] for metric in directive["Metrics"]] == ["Duration", "QueryCount", "CacheHits", "Errors"]
    assert [metric["Unit"] for metric in directive["Metrics"]] == ["Milliseconds", "Count", "Count", "Count"]
    assert (line["RouteClass"], line["Route"], line["Status"], line["Method"]) == ("page", "catalog:book", 200, "GET")
    assert line["QueryCount"] > 0
    assert line["QueryTime"] > 0
    assert line["Errors"] == 0


@pytest.mark.django_db
def test_the_query_count_is_exactly_the_requests_queries(emf_lines, django_assert_num_queries):
    book = BookFactory()
    Client().get(book.get_absolute_url())  # warm: the category index and kept page are built
    emf_lines.raw.clear()
    with django_assert_num_queries(0):  # replayed from the page cache: no query at all
        replayed = Client().get(book.get_absolute_url())
    assert replayed["X-Page-Cache"] == "hit"
    [line] = emf_lines.lines
    assert (line["QueryCount"], line["CacheHits"], line["PageCache"]) == (0, 1, "hit")


@pytest.mark.django_db
def test_a_page_cache_miss_counts_no_cache_hit_and_its_queries(emf_lines):
    book = BookFactory()
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(book.get_absolute_url())
    [line] = emf_lines.lines
    assert (response["X-Page-Cache"], line["CacheHits"], line["PageCache"]) == ("miss", 0, "miss")
    assert line["QueryCount"] == len(queries.captured_queries)


@pytest.mark.django_db
def test_a_view_that_raises_is_counted_as_a_5xx(emf_lines, settings):
    settings.ROOT_URLCONF = "tests.analytics.metrics.broken_urls"
    client = Client(raise_request_exception=False)
    response = client.get("/broken")
    assert response.status_code == 500
    [line] = emf_lines.lines
    assert (line["Status"], line["Errors"], line["Route"], line["RouteClass"]) == (500, 1, "broken", "page")
    assert_valid_emf(line)


def test_the_line_is_one_line_of_json_whatever_the_values():
    hostile = 'catalog:"book"\n{"_aws": 1}'
    line = emf_line(dimensions=[["Route"]], metrics=[{"Name": "Duration", "Unit": "Milliseconds"}], values={
        "Route": hostile, "Duration": 1.5,
    })  # fmt: skip
    assert b"\n" not in line
    assert orjson.loads(line)["Route"] == hostile


def test_metrics_off_writes_nothing(client, emf_lines, settings):
    settings.METRICS_ENABLED = False
    assert client.get("/health").status_code == 200
    assert emf_lines.raw == []


def test_without_listeners_the_line_goes_straight_to_the_handlers_stream(monkeypatch):
    import io
    import logging

    from analytics.metrics.emf import JsonLinesHandler, emit_request, metrics_logger

    # settings.LOGGING's one stdout handler, not propagating (pytest adds capture handlers of its own: set aside).
    [configured] = [handler for handler in metrics_logger.handlers if isinstance(handler, JsonLinesHandler)]
    assert metrics_logger.propagate is False
    monkeypatch.setattr(metrics_logger, "handlers", [configured])
    stream = io.StringIO()
    monkeypatch.setattr(configured, "stream", stream)
    monkeypatch.setattr(logging.Logger, "makeRecord", lambda *args, **kwargs: pytest.fail("no LogRecord built"))
    emit_request({"RouteClass": "page", "Route": "catalog:home", "Duration": 1.5, "QueryCount": 2, "CacheHits": 0,
                  "Errors": 0})  # fmt: skip
    [line] = stream.getvalue().splitlines()
    assert_valid_emf(orjson.loads(line))
    assert orjson.loads(line)["Route"] == "catalog:home"
