"""Redis stopped: pages come from Postgres, the cart says it is unavailable, nothing answers 500, and all is back after.

The app (gunicorn) runs on Redis servers of this test's own (both roles, started through
``scripts/redis.sh`` as ``make services`` starts the real ones); the test stops both and
starts them again. The shared Redis servers are never touched.
"""

from __future__ import annotations

import re

import pytest
from django.core.cache import caches
from django.test import RequestFactory

from cart.services import ERROR_MESSAGES
from catalog.cards import book_cards_html
from search.services import search_rows_rebuild
from tests.api.factories import PartnerFactory, issue_key
from tests.factories import BookFactory, CategoryFactory
from tests.faults.conftest import browser, readiness, wait_for
from tests.ops.redis_servers import redis_servers


def token_on(html: str) -> str:
    """The CSRF token of the first form on the page."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no form with a CSRF token on the page"
    return match.group(1)


def add_to_cart(web, server, book) -> object:
    """Press "Add to cart" on the book's page, as the browser's script does (JSON answer)."""
    token = token_on(web.get(server.url + book.get_absolute_url()).text)
    return web.post(
        f"{server.url}/cart/add/",
        data={"book_id": book.pk, "quantity": 1, "csrfmiddlewaretoken": token},
        headers={"Accept": "application/json", "Referer": server.url + book.get_absolute_url()},
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_redis_stopped_pages_come_from_postgres_the_cart_says_unavailable_and_all_recovers(
    app_server, customer, tmp_path
):
    category = CategoryFactory(name="Deserts")
    dune, messiah = BookFactory(title="Dune", category=category), BookFactory(title="Dune Messiah", category=category)
    search_rows_rebuild()  # the Postgres fallback's rows (no worker syncs them here)
    partner = {"Authorization": f"Bearer {issue_key(PartnerFactory()).raw_key}"}
    with redis_servers(tmp_path / "redis") as redis:
        server = app_server(
            REDIS_URL=redis.url("cache"),
            REDIS_DURABLE_URL=redis.url("durable"),
            CELERY_BROKER_URL=redis.url("durable", 2),
            REDIS_DOWN_MEMO_SECONDS="0.5",
        )
        shopper, visitor = browser(server, customer), browser(server)
        assert add_to_cart(shopper, server, dune).json()["count"] == 1

        redis.script("stop")
        pages = ["/", category.get_absolute_url(), messiah.get_absolute_url(), "/books/", "/search/?q=messiah"]
        for path in pages:
            for who in (visitor, shopper):
                page = who.get(server.url + path)
                assert (path, page.status_code) == (path, 200)
        assert "Dune Messiah" in visitor.get(server.url + messiah.get_absolute_url()).text
        assert "Dune Messiah" in shopper.get(f"{server.url}/search/?q=messiah").text
        refused = add_to_cart(shopper, server, messiah)
        assert refused.status_code == 503
        assert refused.json()["error"] == {"code": "unavailable", "message": ERROR_MESSAGES["unavailable"]}
        cart_page = shopper.get(f"{server.url}/cart/")
        assert cart_page.status_code == 503
        assert "We cannot show your cart right now." in cart_page.text
        api = visitor.get(f"{server.url}/api/v1/books/{messiah.pk}/", headers=partner)
        assert (api.status_code, api.json()["title"]) == (200, "Dune Messiah")
        assert visitor.get(f"{server.url}/api/v1/search/?q=messiah", headers=partner).status_code == 200
        ready = readiness(server)
        assert (ready["status_code"], ready["status"]) == (200, "degraded")
        assert ready["checks"]["cache"]["status"] != "ok"
        assert ready["checks"]["durable"]["status"] != "ok"
        assert visitor.get(f"{server.url}/health").status_code == 200

        redis.script("start")
        wait_for(lambda: add_to_cart(shopper, server, messiah).status_code == 200, timeout=10, interval=0.3)
        cart_page = shopper.get(f"{server.url}/cart/")
        assert cart_page.status_code == 200
        assert "Dune Messiah" in cart_page.text
        assert re.search(r">\s*Dune\s*<", cart_page.text)  # the line added before the outage is kept
        # Both roles come back: each within its process's short "down" memo of the outage.
        ready = wait_for(
            lambda: (
                (found := readiness(server))["checks"]["durable"]["status"] == "ok"
                and found["checks"]["cache"]["status"] == "ok"
                and found
            )
        )
        assert (ready["checks"]["cache"]["status"], ready["checks"]["durable"]["status"]) == ("ok", "ok")
        for path in pages:
            assert visitor.get(server.url + path).status_code == 200


@pytest.fixture
def redis_unreachable(settings):
    """Every Redis alias points at a closed port (a fast, in-process stand-in for a stopped Redis)."""
    dead = {"LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = {
        name: {**config, **dead} if config["BACKEND"].endswith(".RedisCache") else config
        for name, config in settings.CACHES.items()
    }


def test_an_answer_filled_in_during_an_outage_is_the_callers_own(redis_unreachable):
    answer = caches["fragments"].get_many(["card:1"])
    answer["card:1"] = "<article>filled in by the caller</article>"

    assert caches["fragments"].get_many(["card:1"]) == {}
    assert caches["durable"].get_many(["page-cache:tag:book:1"]) == {}


@pytest.mark.django_db
def test_book_cards_drawn_during_an_outage_leave_other_reads_alone(redis_unreachable):
    cards = book_cards_html([BookFactory(title="Dune")], request=RequestFactory().get("/"))

    assert "Dune" in cards[0]
    assert caches["durable"].get_many(["page-cache:tag:book:1"]) == {}
