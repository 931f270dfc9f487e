"""The site-wide page cache (cloudshelf.edge.page_cache): kept pages, personal slots, freshness."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.test import Client

from catalog import services as catalog_services
from cloudshelf.edge import page_cache
from cloudshelf.edge.slots import render_slot
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]*)"')


@pytest.fixture
def fantasy():
    return CategoryFactory(name="Fantasy")


@pytest.fixture
def tolkien():
    return AuthorFactory(name="J. R. R. Tolkien")


@pytest.fixture
def hobbit(fantasy, tolkien):
    return BookFactory(title="The Hobbit", price=Decimal("12.00"), category=fantasy, authors=[tolkien], stock=7)


def page_urls(book) -> dict[str, str]:
    """One URL of every kind of kept page showing ``book``."""
    return {
        "home": "/",
        "all books": "/books/",
        "category": book.category.get_absolute_url(),
        "author": book.book_authors.get().author.get_absolute_url(),
        "book": book.get_absolute_url(),
    }


@pytest.mark.parametrize("kind", ["home", "all books", "category", "author", "book"])
def test_a_second_anonymous_visit_is_answered_from_the_kept_page_without_queries(
    kind, hobbit, django_assert_num_queries
):
    url = page_urls(hobbit)[kind]
    first = Client().get(url)

    with django_assert_num_queries(0):
        second = Client().get(url)

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["X-Page-Cache"], second["X-Page-Cache"]) == ("miss", "hit")
    assert second.content == first.content
    assert "The Hobbit" in second.content.decode()


def test_a_kept_page_is_the_same_for_every_visitor_without_a_session(hobbit):
    first = Client().get(hobbit.get_absolute_url())
    second = Client().get(hobbit.get_absolute_url())

    assert first.content == second.content
    assert not second.cookies
    assert "__CLOUDSHELF" not in second.content.decode()
    assert "<!--personal:account_nav:-->" in second.content.decode()
    assert "Log in" in second.content.decode()


def cart_count(html: str) -> str:
    return re.search(r"data-cart-count-value>(\d+)<", html).group(1)


def test_two_visitors_with_different_carts_each_see_only_their_own_count_name_and_token(hobbit, fantasy):
    other_book = BookFactory(title="Silmarillion", category=fantasy, stock=5)
    alice, bob = UserFactory(username="alice_reader"), UserFactory(username="bob_reader")
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    alice_client.post("/cart/add/", {"book_id": hobbit.pk, "quantity": 3})
    for book in (hobbit, other_book):
        bob_client.post("/cart/add/", {"book_id": book.pk, "quantity": 1})
    Client().get(hobbit.get_absolute_url())  # the shell is kept

    alice_page = alice_client.get(hobbit.get_absolute_url())
    bob_page = bob_client.get(hobbit.get_absolute_url())

    assert alice_page["X-Page-Cache"] == bob_page["X-Page-Cache"] == "hit"
    alice_html, bob_html = alice_page.content.decode(), bob_page.content.decode()
    assert (cart_count(alice_html), cart_count(bob_html)) == ("3", "2")
    assert "alice_reader" in alice_html
    assert "bob_reader" not in alice_html
    assert "bob_reader" in bob_html
    assert "alice_reader" not in bob_html
    alice_tokens, bob_tokens = set(TOKEN.findall(alice_html)), set(TOKEN.findall(bob_html))
    assert "" not in alice_tokens | bob_tokens
    assert alice_tokens.isdisjoint(bob_tokens)
    assert alice_page["Cache-Control"] == bob_page["Cache-Control"] == "private, no-store"


def test_a_personal_page_carries_a_token_that_the_cart_accepts(hobbit):
    shopper = Client(enforce_csrf_checks=True)
    shopper.force_login(UserFactory())
    Client().get(hobbit.get_absolute_url())
    page = shopper.get(hobbit.get_absolute_url())
    token = TOKEN.search(page.content.decode()).group(1)

    added = shopper.post("/cart/add/", {"book_id": hobbit.pk, "csrfmiddlewaretoken": token})

    assert page["X-Page-Cache"] == "hit"
    assert added.status_code == 302


def test_a_customer_sees_their_own_review_on_a_kept_book_page(hobbit, customer, customer_client):
    ReviewFactory(book=hobbit, user=customer, title="Second breakfast", rating=5)
    Client().get(hobbit.get_absolute_url())

    page = customer_client.get(hobbit.get_absolute_url()).content.decode()
    anonymous = Client().get(hobbit.get_absolute_url()).content.decode()

    assert "Your review" in page
    assert "Edit your review" in page
    assert "Log in to review" not in page
    assert "Edit your review" not in anonymous
    assert "Log in to review" in anonymous


def test_a_customer_without_a_review_gets_the_form(hobbit, customer_client):
    Client().get(hobbit.get_absolute_url())

    page = customer_client.get(hobbit.get_absolute_url()).content.decode()

    assert "Write a review" in page
    assert f'action="/reviews/new/{hobbit.isbn13}/"' in page


def test_messages_are_shown_once_on_a_kept_page(hobbit, client):
    Client().get(hobbit.get_absolute_url())
    client.post("/cart/add/", {"book_id": hobbit.pk, "next": hobbit.get_absolute_url()})

    first = client.get(hobbit.get_absolute_url()).content.decode()
    second = client.get(hobbit.get_absolute_url()).content.decode()

    assert "Added “The Hobbit” to your cart." in first
    assert "to your cart." not in second


# --- Freshness: each kind of change shows on each kind of page --------------------------


def change_price(book) -> None:
    catalog_services.books_adjust_price(book_ids=[book.pk], percent=Decimal("-25"))


def change_stock(book) -> None:
    catalog_services.inventory_set_stock(book_ids=[book.pk], stock_on_hand=0)


def add_review(book) -> None:
    catalog_services.review_create(book=book, user=UserFactory(), rating=1, title="Dull", body="Not for me.")


def rename_author(book) -> None:
    author = book.book_authors.get().author
    author.name = "John Ronald Reuel Tolkien"
    author.save()


CHANGES = {
    "price": (change_price, "$9.00"),
    "stock": (change_stock, "Out of stock"),
    # The rating's label, as cards and the book page both write it (the page spells out "2 ratings").
    "review": (add_review, "from 2 ratings"),
    "author": (rename_author, "John Ronald Reuel Tolkien"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("kind", ["home", "all books", "category", "author", "book"])
def test_a_change_to_a_book_shows_at_once_on_every_kind_of_page(
    kind, change, hobbit, django_capture_on_commit_callbacks
):
    ReviewFactory(book=hobbit, rating=5)
    catalog_services.book_refresh_rating(book_id=hobbit.pk)
    url = page_urls(hobbit)[kind]
    make_change, shown = CHANGES[change]
    before = Client().get(url)
    assert shown not in before.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        make_change(hobbit)
    after = Client().get(url)

    assert after["X-Page-Cache"] == "miss"
    assert shown in after.content.decode()


def test_a_new_review_shows_on_a_kept_book_page(hobbit, django_capture_on_commit_callbacks):
    Client().get(hobbit.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.review_create(book=hobbit, user=UserFactory(), rating=4, title="Riddles in the dark", body="…")
    after = Client().get(hobbit.get_absolute_url()).content.decode()

    assert "Riddles in the dark" in after


def test_an_edited_review_shows_on_a_kept_book_page(hobbit, customer, django_capture_on_commit_callbacks):
    review = ReviewFactory(book=hobbit, user=customer, title="First thoughts", rating=3)
    Client().get(hobbit.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.review_update(review=review, user=customer, rating=3, title="Second thoughts", body="Better.")
    after = Client().get(hobbit.get_absolute_url()).content.decode()

    assert "Second thoughts" in after
    assert "First thoughts" not in after


def test_a_price_change_of_a_related_book_shows_on_the_book_page(hobbit, tolkien, django_capture_on_commit_callbacks):
    related = BookFactory(title="Farmer Giles of Ham", price=Decimal("8.00"), authors=[tolkien], stock=3)
    page = Client().get(hobbit.get_absolute_url()).content.decode()
    assert "Farmer Giles of Ham" in page

    with django_capture_on_commit_callbacks(execute=True):
        change_price(related)
    after = Client().get(hobbit.get_absolute_url()).content.decode()

    assert "$6.00" in after


def test_a_rebuild_after_a_price_change_reuses_the_reviews_and_related_fragments(
    hobbit, tolkien, django_capture_on_commit_callbacks, django_assert_num_queries
):
    BookFactory(title="Farmer Giles of Ham", authors=[tolkien])
    ReviewFactory(book=hobbit, title="Kept")
    Client().get(hobbit.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        change_price(hobbit)
    with django_assert_num_queries(2):  # the book and its authors
        after = Client().get(hobbit.get_absolute_url()).content.decode()

    assert "$9.00" in after
    assert "Kept" in after
    assert "Farmer Giles of Ham" in after


def test_an_import_shows_at_once_on_the_book_page(hobbit, tmp_path, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    Client().get(hobbit.get_absolute_url())
    source = tmp_path / "books.csv"
    source.write_text(f"isbn13,title,authors,price\n{hobbit.isbn13},The Hobbit,J. R. R. Tolkien,5.55\n")

    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_books", str(source), stdout=io.StringIO(), stderr=io.StringIO())
    after = Client().get(hobbit.get_absolute_url())

    assert "$5.55" in after.content.decode()


def test_an_admin_price_edit_shows_at_once(hobbit, admin_client, django_capture_on_commit_callbacks):
    Client().get(hobbit.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/catalog/book/",
            {"action": "adjust_prices", "_selected_action": [hobbit.pk], "percent": "50", "apply": "1"},
        )
    after = Client().get(hobbit.get_absolute_url())

    assert "$18.00" in after.content.decode()


def test_a_new_book_shows_on_the_all_books_listing(hobbit, django_capture_on_commit_callbacks):
    Client().get("/books/?sort=title")

    with django_capture_on_commit_callbacks(execute=True):
        BookFactory(title="A Brand New Book")
    after = Client().get("/books/?sort=title")

    assert "A Brand New Book" in after.content.decode()


def test_a_renamed_category_shows_in_the_navigation_of_every_page(hobbit, django_capture_on_commit_callbacks):
    Client().get(hobbit.get_absolute_url())
    category = hobbit.category

    with django_capture_on_commit_callbacks(execute=True):
        category.name = "High Fantasy"
        catalog_services.category_save(category=category)
    after = Client().get(hobbit.get_absolute_url())

    assert "High Fantasy" in after.content.decode()


def test_a_change_to_another_book_leaves_the_page_kept(hobbit, django_capture_on_commit_callbacks):
    unrelated = BookFactory(title="Unrelated", category=CategoryFactory(name="Cooking"))
    Client().get(hobbit.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        change_price(unrelated)

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "hit"


def test_a_change_another_process_makes_shows_after_the_recheck_interval(hobbit, settings):
    settings.PAGE_CACHE_RECHECK_SECONDS = 3600
    Client().get(hobbit.get_absolute_url())
    # Another process retired the page: only the shared stamps changed, not this process's count.
    caches["durable"].set(page_cache._tag_key(f"book:{hobbit.pk}"), page_cache._next_sequence())

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "hit"  # trusted for now
    settings.PAGE_CACHE_RECHECK_SECONDS = 0
    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "miss"


def test_a_change_during_rendering_leaves_the_kept_copy_stale(hobbit, monkeypatch):
    real_render = page_cache._entry_from

    def change_while_rendering(request, response, shell):
        page_cache.pages_changed([f"book:{hobbit.pk}"])  # lands after the page read the book
        return real_render(request, response, shell)

    monkeypatch.setattr(page_cache, "_entry_from", change_while_rendering)
    Client().get(hobbit.get_absolute_url())
    monkeypatch.setattr(page_cache, "_entry_from", real_render)

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "miss"


def test_another_process_uses_the_copy_this_one_kept(hobbit):
    Client().get(hobbit.get_absolute_url())
    page_cache.local_pages.clear()  # a process that never rendered it

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "hit"


# --- Expiry, stampedes and failures ---------------------------------------------------


def age_every_kept_page(seconds: float) -> None:
    """Make every kept copy (shared and local) ``seconds`` older."""
    store = caches[page_cache.PAGES_CACHE_ALIAS]
    for key in store.keys("page:*"):
        entry = store.get(key)
        store.set(key, page_cache.PageEntry(**{**entry.__dict__, "rendered_at": entry.rendered_at - seconds}))
    page_cache.local_pages.clear()


def test_an_expired_page_is_rebuilt(hobbit, settings):
    Client().get(hobbit.get_absolute_url())
    age_every_kept_page(settings.PAGE_CACHE_SECONDS + 1)

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "miss"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_hot_page_expiring_under_concurrent_requests_is_rebuilt_once(settings):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from django.db import connections

    book = BookFactory(title="Hot", category=CategoryFactory(name="Hot things"))
    url = book.get_absolute_url()
    Client().get(url)
    age_every_kept_page(settings.PAGE_CACHE_SECONDS + 1)
    start = Barrier(12)

    def visit(_: int) -> str:
        try:
            start.wait()
            return Client().get(url)["X-Page-Cache"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=12) as pool:
        states = sorted(pool.map(visit, range(12)))

    # One rebuild; the others got the previous bytes (or, arriving after it, the new ones).
    assert states.count("miss") == 1
    assert states.count("stale") >= 1
    assert states.count("stale") + states.count("hit") == 11


@pytest.mark.django_db(transaction=True)
def test_with_the_database_stopped_kept_pages_are_served_stale_not_500(settings):
    from django.db import connection

    book = BookFactory(title="Resilient", category=CategoryFactory(name="Sturdy"))
    urls = [book.get_absolute_url(), "/books/", "/"]
    for url in urls:
        Client().get(url)
    age_every_kept_page(settings.PAGE_CACHE_SECONDS + 1)  # due for a rebuild, within the stale window
    unkept = "/books/?sort=title"

    port = connection.settings_dict["PORT"]
    connection.close()
    if connection.pool is not None:
        connection.close_pool()  # the next pool connects to the new port (and waits its timeout)
    connection.settings_dict["PORT"] = "1"  # connection refused: what a stopped Postgres gives
    try:
        answers = [Client(raise_request_exception=False).get(url) for url in [*urls, unkept]]
    finally:
        connection.close()
        if connection.pool is not None:
            connection.close_pool()
        connection.settings_dict["PORT"] = port

    for response in answers[:-1]:
        assert response.status_code == 200
        assert response["X-Page-Cache"] == "stale"
        assert response["Warning"] == '110 - "Response is Stale"'
    assert "Resilient" in answers[0].content.decode()
    assert answers[-1].status_code == 500


def test_pages_past_the_stale_window_are_not_served(hobbit, settings):
    Client().get(hobbit.get_absolute_url())
    age_every_kept_page(settings.PAGE_CACHE_SECONDS + settings.PAGE_CACHE_STALE_SECONDS + 1)

    assert Client().get(hobbit.get_absolute_url())["X-Page-Cache"] == "miss"


def test_pages_still_work_when_the_cache_server_is_down(hobbit, settings):
    dead = {"LOCATION": "redis://127.0.0.1:1/0"}
    options = {**settings.CACHES["default"]["OPTIONS"], "SOCKET_CONNECT_TIMEOUT": 0.1, "SOCKET_TIMEOUT": 0.1}
    settings.CACHES = {
        name: {**config, **dead, "OPTIONS": options} if config["BACKEND"].endswith(".RedisCache") else config
        for name, config in settings.CACHES.items()
    }
    page_cache.local_pages.clear()

    responses = [Client().get(hobbit.get_absolute_url()) for _ in range(2)]

    for response in responses:
        assert response.status_code == 200
        assert "The Hobbit" in response.content.decode()


def test_zero_seconds_turns_the_page_cache_off(hobbit, settings):
    settings.PAGE_CACHE_SECONDS = 0

    Client().get(hobbit.get_absolute_url())
    second = Client().get(hobbit.get_absolute_url())

    assert "X-Page-Cache" not in second
    assert second.status_code == 200


# --- What is never kept ---------------------------------------------------------------


def test_not_found_pages_are_not_kept_and_show_no_placeholders(db):
    for _ in range(2):
        response = Client().get("/books/?page=99")
        assert response.status_code == 404
        assert "X-Page-Cache" not in response
        assert "__CLOUDSHELF" not in response.content.decode()
        assert "<!--personal:" not in response.content.decode()


def test_a_wrong_slug_still_redirects(hobbit):
    response = Client().get(f"/books/{hobbit.isbn13}/wrong-slug/")

    assert response.status_code == 301
    assert response["Location"] == hobbit.get_absolute_url()


def test_each_query_string_is_its_own_page(hobbit):
    Client().get("/books/")

    assert Client().get("/books/?sort=title")["X-Page-Cache"] == "miss"
    assert Client().get("/books/?sort=title")["X-Page-Cache"] == "hit"


@pytest.mark.parametrize(
    "query",
    ["?sort=<script>alert(1)</script>", "?page=abc", "?sort=" + "x" * 5000, "?utm_source=%00%ff", "?q=%E2%80%AE"],
)
def test_hostile_query_strings_never_break_or_poison_a_kept_page(hobbit, query):
    first = Client().get("/books/" + query)
    second = Client().get("/books/" + query)

    assert first.status_code == second.status_code
    assert first.status_code in (200, 404)
    assert "<script>alert(1)</script>" not in second.content.decode()


def test_a_bad_host_header_is_refused_before_the_cache(hobbit):
    response = Client().get(hobbit.get_absolute_url(), HTTP_HOST="evil.example")

    assert response.status_code == 400


def test_a_slot_argument_that_could_close_its_marker_is_refused(rf):
    with pytest.raises(ValueError, match="argument"):
        render_slot(rf.get("/"), "review_compose", "x--><script>", in_shell=True)


def test_an_unknown_slot_is_a_clear_error(rf):
    with pytest.raises(KeyError, match="no personal slot named 'nope'"):
        render_slot(rf.get("/"), "nope", in_shell=True)


# --- Which paths the edge must purge ----------------------------------------------------


def test_the_paths_of_every_kept_page_showing_a_book_are_known(hobbit):
    unrelated = BookFactory(title="Unrelated", category=CategoryFactory(name="Cooking"))
    urls = {*page_urls(hobbit).values(), "/books/?sort=title"}
    for url in [*urls, unrelated.get_absolute_url()]:
        Client().get(url)

    assert set(page_cache.paths_showing([f"book:{hobbit.pk}"])) == urls
    # Listings and the navigation are too broad to list: their pages expire at s-maxage.
    assert page_cache.paths_showing(["site", "listing:all"]) == []


def test_at_most_the_configured_number_of_paths_are_purged(hobbit, settings):
    settings.PAGE_CACHE_MAX_PURGE_PATHS = 2
    for url in page_urls(hobbit).values():
        Client().get(url)

    assert len(page_cache.paths_showing([f"book:{hobbit.pk}"])) == 2


def test_the_private_cart_page_is_never_listed_for_edge_purges(hobbit, client):
    client.post("/cart/add/", {"book_id": hobbit.pk})
    client.get("/cart/")

    assert "/cart/" not in page_cache.paths_showing([f"book:{hobbit.pk}"])


def test_a_deleted_book_answers_404_not_its_kept_page(hobbit, django_capture_on_commit_callbacks):
    url = hobbit.get_absolute_url()
    Client().get(url)

    with django_capture_on_commit_callbacks(execute=True):
        hobbit.delete()
    response = Client().get(url)

    assert response.status_code == 404
    assert "X-Page-Cache" not in response
