"""Django's own refusals (400, 403, 413, CSRF) answer with the site's pages, not Django's bare ones."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client, RequestFactory

from cloudshelf.errors import bad_request, permission_denied

pytestmark = pytest.mark.django_db


def assert_is_a_site_page(html: str) -> None:
    assert 'class="site-header' in html
    assert 'href="/"' in html
    assert '<meta name="robots" content="noindex">' in html


def test_too_many_query_parameters_get_the_site_400_page(client):
    response = client.get("/books/?" + "&".join(f"f{number}=1" for number in range(1_100)))

    assert response.status_code == 400
    assert "We could not read that request" in response.content.decode()
    assert_is_a_site_page(response.content.decode())


def test_a_request_for_an_unknown_host_gets_the_site_400_page(client):
    response = client.get("/", HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert_is_a_site_page(response.content.decode())


def test_a_form_body_over_the_upload_limit_gets_the_site_413_page(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = client.post("/accounts/login/", {"username": "x" * 2_000, "password": "y"})

    assert response.status_code == 413
    assert "That is more than we can accept" in response.content.decode()
    assert_is_a_site_page(response.content.decode())


def test_permission_denied_gets_the_site_403_page():
    response = permission_denied(RequestFactory().get("/"), PermissionDenied("internal reason"))

    assert response.status_code == 403
    html = response.content.decode()
    assert "You can\N{RIGHT SINGLE QUOTATION MARK}t open this page" in html
    assert "internal reason" not in html
    assert_is_a_site_page(html)


def test_bad_request_handler_says_nothing_of_the_cause():
    response = bad_request(RequestFactory().get("/"), ValueError("secret detail"))

    assert response.status_code == 400
    assert "secret detail" not in response.content.decode()


def test_a_post_without_its_csrf_token_gets_the_site_403_page():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a", "password": "b"})

    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert "CSRF verification failed" not in html
    assert_is_a_site_page(html)
