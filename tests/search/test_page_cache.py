"""Whole results pages kept for anonymous visitors without a session (search.page_cache)."""

import re

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from catalog import services as catalog_services
from search import synonyms
from search.breaker import opensearch_breaker
from search.signals import search_performed

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def is_kept(response) -> bool:
    """Answered from a kept page (the page cache says so; the page template was not rendered)."""
    return response.get("X-Page-Cache") in ("hit", "stale")


def test_a_second_anonymous_visitor_gets_the_kept_page_with_no_token_or_cookie(indexed_shelf):
    first, second = Client(), Client()

    rendered = first.get("/search/", {"q": "dune"})
    kept = second.get("/search/", {"q": "dune"})

    assert not is_kept(rendered)
    assert is_kept(kept)
    assert (rendered["X-Page-Cache"], kept["X-Page-Cache"]) == ("miss", "hit")
    assert kept.status_code == 200
    assert kept["Content-Type"] == "text/html; charset=utf-8"
    assert kept["X-Search-Backend"] == rendered["X-Search-Backend"] == "opensearch"
    page = kept.content.decode()
    assert "Dune Messiah" in page
    assert "__CLOUDSHELF" not in page
    # The same bytes for everyone without a session: shareable, so no token and no cookie.
    assert TOKEN.findall(page) == []
    assert 'name="csrfmiddlewaretoken" value=""' in page
    assert kept.content == rendered.content
    assert not kept.cookies
    assert kept["Vary"] == "Accept-Encoding"
    assert kept["Cache-Control"].startswith("public, ")


def test_the_kept_pages_form_is_accepted_from_our_own_pages(indexed_shelf):
    Client().get("/search/", {"q": "dune"})
    shopper = Client(enforce_csrf_checks=True)
    page = shopper.get("/search/", {"q": "dune"})
    assert is_kept(page)

    added = shopper.post(
        "/cart/add/",
        {"book_id": indexed_shelf.dune.pk, "next": "/search/?q=dune", "csrfmiddlewaretoken": ""},
        headers={"Sec-Fetch-Site": "same-origin"},
    )

    assert added.status_code == 302


def test_the_kept_pages_form_posted_from_another_site_is_refused(indexed_shelf):
    Client().get("/search/", {"q": "dune"})
    shopper = Client(enforce_csrf_checks=True)

    forged = shopper.post(
        "/cart/add/",
        {"book_id": indexed_shelf.dune.pk, "csrfmiddlewaretoken": ""},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )

    assert forged.status_code == 403
    assert "sessionid" not in forged.cookies


def test_a_visitor_with_a_session_gets_the_kept_page_made_theirs(indexed_shelf, customer, customer_client):
    Client().get("/search/", {"q": "dune"})

    response = customer_client.get("/search/", {"q": "dune"})

    assert is_kept(response)
    page = response.content.decode()
    assert f"Logged in as {customer.username}" in page
    # Their own token in every form (masked afresh each time, as Django does).
    assert TOKEN.findall(page)
    assert 'value=""' not in page
    assert response["Cache-Control"] == "private, no-store"


def test_a_visitor_with_a_cart_gets_the_kept_page_showing_it(indexed_shelf, client):
    Client().get("/search/", {"q": "dune"})
    client.post("/cart/add/", {"book_id": indexed_shelf.dune.pk, "next": "/"})

    response = client.get("/search/", {"q": "dune"})

    assert is_kept(response)
    assert "data-cart-count-value>1<" in response.content.decode()


def test_an_index_write_retires_kept_pages(indexed_shelf, django_capture_on_commit_callbacks):
    Client().get("/search/", {"q": "dune"})
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.inventory_set_stock(book_ids=[indexed_shelf.dune.pk], stock_on_hand=0)

    response = Client().get("/search/", {"q": "dune"})

    assert not is_kept(response)
    assert not response.context["result"].hits[0].book.is_in_stock


def test_a_synonym_edit_retires_kept_pages(indexed_shelf):
    Client().get("/search/", {"q": "dune"})
    synonyms.synonyms_changed()
    assert synonyms.synonyms_version()  # the map is read again

    assert not is_kept(Client().get("/search/", {"q": "dune"}))


def test_each_url_is_its_own_page(indexed_shelf):
    Client().get("/search/", {"q": "dune"})

    other = Client().get("/search/", {"q": "dune", "sort": "price"})

    assert not is_kept(other)
    assert [hit.book.title for hit in other.context["result"].hits] == ["Dune", "Dune Messiah", "Children of Dune"]


def test_kept_pages_are_still_counted_for_analytics(indexed_shelf):
    events = []

    def record(sender, **event):
        events.append(event)

    search_performed.connect(record)
    try:
        Client().get("/search/", {"q": "dune"})
        Client().get("/search/", {"q": "dune"})
    finally:
        search_performed.disconnect(record)

    assert len(events) == 2
    assert [event["query"] for event in events] == ["dune", "dune"]
    assert events[1]["result_count"] == 3
    assert events[1]["backend"] == "opensearch"


def test_a_kept_page_announces_the_same_event_as_its_rendering_but_its_own_latency(indexed_shelf):
    events = []

    def record(sender, **event):
        events.append(event)

    search_performed.connect(record)
    try:
        Client().get("/search/", {"q": "dune", "sort": "price", "in_stock": "1"})
        second = Client().get("/search/", {"q": "dune", "sort": "price", "in_stock": "1"})
    finally:
        search_performed.disconnect(record)

    assert is_kept(second)
    rendered, kept = events
    assert {**kept, "latency_ms": None} == {**rendered, "latency_ms": None}
    assert rendered["filters"] == {"in_stock": ["1"]}
    assert kept["latency_ms"] > 0


def test_pages_from_the_database_fallback_are_not_kept(indexed_shelf):
    opensearch_breaker.trip()

    Client().get("/search/", {"q": "dune"})
    again = Client().get("/search/", {"q": "dune"})

    assert not is_kept(again)
    assert again.context["result"].backend == "database"


def test_a_page_past_the_end_is_not_kept_and_has_no_placeholder(indexed_shelf):
    first = Client().get("/search/", {"q": "dune", "page": "9"})
    second = Client().get("/search/", {"q": "dune", "page": "9"})

    assert first.status_code == second.status_code == 404
    assert not is_kept(second)
    assert "__CLOUDSHELF" not in second.content.decode()


def test_a_hostile_query_stays_escaped_in_a_kept_page(indexed_shelf):
    hostile = '"><script>alert(1)</script>'
    Client().get("/search/", {"q": hostile})

    kept = Client().get("/search/", {"q": hostile})

    assert is_kept(kept)
    assert "<script>alert(1)</script>" not in kept.content.decode()


def test_zero_seconds_turns_kept_pages_off(indexed_shelf, settings):
    settings.PAGE_CACHE_SECONDS = 0

    Client().get("/search/", {"q": "dune"})

    assert not is_kept(Client().get("/search/", {"q": "dune"}))


def test_results_pages_still_work_when_the_cache_server_is_down(indexed_shelf, settings):
    dead = {"LOCATION": "redis://127.0.0.1:1/0"}
    options = {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1}
    caches_down = {
        name: {**config, **dead, "OPTIONS": options} if config["BACKEND"].endswith(".RedisCache") else config
        for name, config in settings.CACHES.items()
    }
    with override_settings(CACHES=caches_down):
        first = Client().get("/search/", {"q": "dune"})
        second = Client().get("/search/", {"q": "dune"})

    for response in (first, second):
        assert response.status_code == 200
        assert "Dune Messiah" in response.content.decode()
        assert "__CLOUDSHELF" not in response.content.decode()


def test_a_synonym_edit_this_process_learns_of_late_still_retires_its_pages(indexed_shelf, monkeypatch):
    Client().get("/search/", {"q": "dune"})
    # Another process saved a synonym group: the shared map is gone (no generation bump
    # reached us), and this process's memo of the map runs out.
    monkeypatch.setattr(synonyms, "_load", lambda: {("dune",): ("dune", "arrakis")})
    cache.delete(synonyms.CACHE_KEY)
    monkeypatch.setattr(synonyms, "_memo", (0.0, synonyms._memo[1]))

    response = Client().get("/search/", {"q": "dune"})

    assert not is_kept(response)
    assert response.context["result"].synonyms_used == ["arrakis"]
