"""One error shape everywhere: ``{"code", "message", "fields"}`` with the right status."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError
from django.test import Client

from tests.api.conftest import key_client
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import BookFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    return body


def test_400_names_each_bad_field(api):
    body = assert_error(api.get("/api/v1/books/?price_min=abc&sort=cheapest&page_size=0"), 400, "invalid_input")

    assert body["fields"] == {
        "sort": ['"cheapest" is not a valid choice.'],
        "price_min": ["A valid number is required."],
    }


def test_400_for_a_page_size_out_of_range(api):
    body = assert_error(api.get("/api/v1/books/?page_size=101"), 400, "invalid_input")

    assert body["fields"] == {"page_size": ["A whole number from 1 to 100."]}


def test_400_for_malformed_json(api):
    body = assert_error(api.post("/api/v1/carts/", "{not json", content_type="application/json"), 400, "parse_error")

    assert body["fields"] == {}


def test_401_without_a_key(db):
    assert_error(Client().get("/api/v1/books/"), 401, "not_authenticated")


def test_403_for_a_read_only_key_writing(db):
    client = key_client(issue_key(PartnerFactory(), can_write=False).raw_key)

    assert_error(client.post("/api/v1/carts/", {}, content_type="application/json"), 403, "read_only_key")


def test_404_for_an_unknown_url_is_json_too(api):
    body = assert_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")

    assert body["message"] == "There is no API endpoint at this URL."


def test_404_for_an_unknown_url_without_a_key(db):
    assert_error(Client().get("/api/v2/books/"), 404, "not_found")


def test_404_for_a_missing_resource(api):
    assert_error(api.get("/api/v1/books/424242424/"), 404, "not_found")


def test_405_for_a_wrong_method(api):
    assert_error(api.delete("/api/v1/books/"), 405, "method_not_allowed")


def test_409_for_a_conflict_with_the_cart(api):
    book = BookFactory(stock=0)
    cart_id = api.post("/api/v1/carts/", {}, content_type="application/json").json()["id"]

    response = api.post(
        f"/api/v1/carts/{cart_id}/lines/", {"book_id": book.pk, "quantity": 1}, content_type="application/json"
    )

    body = assert_error(response, 409, "out_of_stock")
    assert body["message"] == f"Sorry, “{book.title}” is out of stock."


def test_415_for_a_body_that_is_not_json(api):
    assert_error(api.post("/api/v1/carts/", "a=b", content_type="text/plain"), 415, "unsupported_media_type")


def test_503_when_the_database_is_unreachable_during_the_key_lookup(partner_key, monkeypatch, caplog):
    def unreachable(key_hash):
        raise OperationalError("connection refused")

    monkeypatch.setattr("partners.selectors._key_row", unreachable)

    with caplog.at_level(logging.ERROR, logger="cloudshelf.api"):
        response = key_client(partner_key.raw_key).get("/api/v1/books/")

    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert "dependency unavailable" in caplog.text


def test_503_when_the_database_fails_inside_a_view(api, monkeypatch):
    def unreachable(**filters):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("catalog.api.books_matching", unreachable)

    response = api.get("/api/v1/books/")

    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"


def test_500_is_json_logged_and_says_nothing_internal(api, monkeypatch, caplog):
    def broken():
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("catalog.api.category_tree", broken)

    with caplog.at_level(logging.ERROR, logger="cloudshelf.api"):
        response = api.get("/api/v1/categories/")

    body = assert_error(response, 500, "server_error")
    assert "secret" not in body["message"]
    assert "secret internal detail" in caplog.text


def test_site_pages_keep_their_html_404(db):
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
