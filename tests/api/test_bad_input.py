"""Hostile and malformed input anywhere in the API is a 400 (or 404 for a path), never a 500."""

from __future__ import annotations

import pytest

from tests.factories import BookFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "\x00",
    "%00",
    "../../etc/passwd",
    "\u202egnp.exe\u200b",  # right-to-left override, zero-width space
    "\U0001d518\U0001d52b",  # astral-plane letters
    "9" * 400,
    "²",  # isdigit() says yes, int() raises
    "\u0661\u0662",  # Arabic-Indic "12": int() accepts it, our ASCII-only fields must not
    "\U0001d7d7",  # mathematical bold digit nine
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "[]",
    "{}",
    "true",
    " ",
]

BOOK_QUERY_PARAMETERS = [
    "sort",
    "category",
    "author",
    "price_min",
    "price_max",
    "rating_min",
    "in_stock",
    "language",
    "published_after",
    "published_before",
    "isbn",
    "cursor",
    "page_size",
]


@pytest.mark.parametrize("parameter", BOOK_QUERY_PARAMETERS)
@pytest.mark.parametrize("value", HOSTILE)
def test_book_list_parameters_refuse_hostile_values_with_400(api, parameter, value):
    response = api.get("/api/v1/books/", {parameter: value})

    # A few hostile strings are legitimate for a lenient field (in_stock=true); never a 500.
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.json()["code"] == "invalid_input"
        assert list(response.json()["fields"]) == [parameter]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("price_min=-1", "price_min"),
        ("price_min=100000000000", "price_min"),
        ("price_max=12.345", "price_max"),
        ("price_min=20&price_max=10", "price_max"),
        ("rating_min=5.5", "rating_min"),
        ("published_after=2024-02-30", "published_after"),
        ("published_after=2024-01-01&published_before=2023-01-01", "published_before"),
        ("category=0", "category"),
        ("category=99999999999999999999", "category"),
        ("author=-5", "author"),
        ("language=english", "language"),
        ("language=EN", "language"),
        ("page_size=1000000", "page_size"),
        ("page_size=1.5", "page_size"),
        ("page_size=%C2%B2", "page_size"),  # "²": isdigit() is true, int() raises
        ("page_size=%D9%A1%D9%A2", "page_size"),  # Arabic-Indic digits
        ("page_size=" + "9" * 5000, "page_size"),  # past int()'s 4,300-digit limit
        ("page_size=+5", "page_size"),
        ("cursor=" + "A" * 600, "cursor"),
        ("cursor=eyJvIjoieCIsInYiOltdfQ", "cursor"),  # valid base64 JSON, wrong order fingerprint
    ],
)
def test_out_of_range_values_are_400_naming_the_field(api, query, field):
    response = api.get(f"/api/v1/books/?{query}")

    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [field]


def test_a_forged_cursor_with_out_of_range_values_is_400(api):
    import base64

    import orjson

    first = api.get("/api/v1/books/?sort=price&page_size=1")
    BookFactory.create_batch(2)
    fingerprint = orjson.loads(
        base64.urlsafe_b64decode(api.get("/api/v1/books/?sort=price&page_size=1").json()["next_cursor"] + "===")
    )["o"]
    for values in (["1e400", 1], ["-5", 1], ["12.00", "9" * 30], ["abc", 1], [None, 1], ["12.00"]):
        forged = base64.urlsafe_b64encode(orjson.dumps({"o": fingerprint, "v": values})).decode().rstrip("=")
        response = api.get(f"/api/v1/books/?sort=price&cursor={forged}")
        assert response.status_code == 400, (values, response.content)
        assert list(response.json()["fields"]) == ["cursor"]
    assert first.status_code == 200


def test_invalid_utf8_in_the_query_string_is_400(api):
    response = api.get("/api/v1/books/?sort=%ED%A0%80&language=%FF%FE")

    assert response.status_code == 400
    assert sorted(response.json()["fields"]) == ["language", "sort"]


@pytest.mark.parametrize("value", HOSTILE)
def test_isbn_paths_and_lists_refuse_hostile_values(api, value):
    by_path = api.get(f"/api/v1/books/isbn/{value}/")
    listed = api.get("/api/v1/books/availability/", {"isbns": value})

    assert by_path.status_code in (400, 404), by_path.content
    assert listed.status_code == 400, listed.content


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"null",
        b"[]",
        b'"string"',
        b"{",
        b'{"customer_reference": {"nested": true}}',
        b'{"customer_reference": "' + b"x" * 101 + b'"}',
        b'{"customer_reference": "\\u0000"}',
        b'{"customer_reference": "\\ud800"}',
        b"\xff\xfe",
    ],
)
def test_cart_creation_refuses_malformed_bodies(api, body):
    response = api.post("/api/v1/carts/", body, content_type="application/json")

    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) == {"code", "message", "fields"}


@pytest.mark.parametrize("url", ["/api/v1/books/?sort=", "/api/v1/search/?sort=", "/api/v1/books/?category="])
def test_a_parameter_given_empty_is_400_not_taken_as_absent(api, url):
    response = api.get(url)

    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == [url.rsplit("?", 1)[1].rstrip("=")]


@pytest.mark.parametrize("value", [0, 1.5, True, ["a"], {"a": 1}])
def test_a_non_string_where_the_schema_says_string_is_400(api, value):
    response = api.post("/api/v1/carts/", {"customer_reference": value}, content_type="application/json")

    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["customer_reference"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/nowhere/"),
        ("put", "/api/v1/carts/6f1c3a52-1d8e-4a3b-9d7e-0c2b5e8f4a61/lines/-5/"),
        ("delete", "/api/v1/authors/0.5/"),
    ],
)
def test_unsafe_methods_on_unknown_api_urls_are_a_json_404_not_the_sites_csrf_page(partner_key, method, path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {partner_key.raw_key}"})

    response = getattr(client, method)(path, "{}", content_type="application/json")

    assert response.status_code == 404, response.content[:200]
    assert response.json()["code"] == "not_found"
