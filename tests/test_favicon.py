"""The site's icon: linked from the shop's and the admin's pages, and found at /favicon.ico."""

from __future__ import annotations

import pytest

from tests.factories import BookFactory, UserFactory

pytestmark = pytest.mark.django_db

ICON_LINK = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'


def test_favicon_ico_redirects_permanently_to_the_icon_and_may_be_cached(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/favicon.svg"
    assert response["Cache-Control"] == "public, max-age=86400"
    assert not response.cookies


def test_the_icon_it_points_to_is_served(client):
    response = client.get(client.get("/favicon.ico")["Location"])

    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in b"".join(response.streaming_content)


def test_favicon_ico_answers_head_but_not_post(client):
    assert client.head("/favicon.ico").status_code == 301
    assert client.post("/favicon.ico").status_code == 405


def test_the_admin_login_page_links_the_icon(client):
    assert client.get("/admin/login/").content.decode().count(ICON_LINK) == 1


@pytest.mark.parametrize("path", ["/admin/", "/admin/catalog/book/", "/admin/cart/order/"])
def test_admin_pages_link_the_icon(client, path):
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))

    response = client.get(path)

    assert response.status_code == 200
    assert response.content.decode().count(ICON_LINK) == 1


def test_shop_pages_link_the_icon(client):
    book = BookFactory()

    for path in ("/", book.get_absolute_url()):
        assert client.get(path).content.decode().count(ICON_LINK) == 1
