"""The book page without its non-essential parts, and kept pages that follow the flags and shedding."""

from __future__ import annotations

import pytest

from cloudshelf.edge import page_cache
from cloudshelf.edge.page_cache import local_pages
from cloudshelf.features.services import feature_flag_set
from cloudshelf.features.shedding import monitor
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_features")]

RELATED = 'aria-labelledby="related-title"'
REVIEWS_OFF = "Reviews are not shown at the moment"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOAD_SHED_MAX_IN_FLIGHT = 8
    settings.LOAD_SHED_HOLD_SECONDS = 30.0
    settings.LOAD_SHED_PAGE_SECONDS = 10
    settings.PAGE_CACHE_SECONDS = 600
    settings.PAGE_CACHE_SHARED_MAX_AGE = 300


@pytest.fixture
def book():
    category = CategoryFactory(name="Fiction")
    authors = AuthorFactory.create_batch(2)
    book = BookFactory(title="The Main Book", category=category, authors=authors)
    BookFactory.create_batch(3, category=category, authors=authors[:1])
    ReviewFactory(book=book, user=UserFactory(password=None), body="A review worth reading.")
    book.review_count = 1
    book.save()
    return book


def switch(name: str, on: bool, capture) -> None:
    with capture(execute=True):
        feature_flag_set(name=name, is_enabled=on)


def overload() -> None:
    for _ in range(8):
        monitor.request_started()
    for _ in range(8):
        monitor.request_finished()


def test_the_book_page_shows_related_books_and_reviews_by_default(client, book):
    html = client.get(book.get_absolute_url()).content.decode()

    assert RELATED in html
    assert "A review worth reading." in html
    assert REVIEWS_OFF not in html


def test_with_both_features_off_the_book_page_reads_fewer_queries(
    client, book, django_assert_num_queries, django_capture_on_commit_callbacks
):
    client.get(book.get_absolute_url())  # the navigation is cached from here on
    siblings = [BookFactory(category=book.category, authors=list(book.authors.all())) for _ in range(2)]
    for sibling in siblings:
        ReviewFactory(book=sibling, user=UserFactory(password=None))

    # Book, authors, the authors' other books, reviews, related ids (by author, by category),
    # related cards and their authors (the category trail is cached).
    with django_assert_num_queries(8):
        client.get(siblings[0].get_absolute_url())
    switch("recommendations", False, django_capture_on_commit_callbacks)
    switch("review_lists", False, django_capture_on_commit_callbacks)
    # Book, authors, the authors' other books: nothing for reviews or related books.
    with django_assert_num_queries(3):
        html = client.get(siblings[1].get_absolute_url()).content.decode()

    assert RELATED not in html
    assert REVIEWS_OFF in html
    assert 'class="reviews__filter"' not in html
    assert 'id="reviews"' in html  # the section and its rating stay


def test_switching_a_flag_retires_the_kept_pages_that_showed_it(client, book, django_capture_on_commit_callbacks):
    assert RELATED in client.get(book.get_absolute_url()).content.decode()
    assert client.get(book.get_absolute_url())["X-Page-Cache"] == "hit"

    switch("recommendations", False, django_capture_on_commit_callbacks)
    local_pages.clear()  # another process's copy: rechecked against the tags, as after a second
    response = client.get(book.get_absolute_url())

    assert response["X-Page-Cache"] == "miss"
    assert RELATED not in response.content.decode()
    switch("recommendations", True, django_capture_on_commit_callbacks)
    local_pages.clear()
    assert RELATED in client.get(book.get_absolute_url()).content.decode()


def test_a_new_note_alone_retires_no_kept_page(client, book, django_capture_on_commit_callbacks):
    client.get(book.get_absolute_url())

    with django_capture_on_commit_callbacks(execute=True):
        feature_flag_set(name="recommendations", is_enabled=True, note="Checked: fine again")
    local_pages.clear()  # another process's copy: rechecked against the tags

    assert client.get(book.get_absolute_url())["X-Page-Cache"] == "hit"


def test_a_page_switched_off_by_an_admin_is_kept_as_long_as_any(client, book, django_capture_on_commit_callbacks):
    switch("review_lists", False, django_capture_on_commit_callbacks)

    first = client.get(book.get_absolute_url())
    second = client.get(book.get_absolute_url())

    assert "s-maxage=300" in first["Cache-Control"]
    assert second["X-Page-Cache"] == "hit"


def test_a_page_rendered_while_shedding_is_kept_briefly_and_says_so(client, book, clock):
    overload()

    response = client.get(book.get_absolute_url())

    html = response.content.decode()
    assert RELATED not in html
    assert REVIEWS_OFF in html
    assert response["X-Load-Shedding"] == "on"
    assert response["Cache-Control"].startswith("public, max-age=0, s-maxage=10,")
    kept = next(iter(local_pages._copies.values())).entry
    assert kept.extra["fresh_seconds"] == 10
    assert "feature:shed" in kept.tags


def test_when_shedding_ends_the_lighter_pages_are_retired(client, book, clock):
    overload()
    assert RELATED not in client.get(book.get_absolute_url()).content.decode()
    assert client.get(book.get_absolute_url())["X-Page-Cache"] == "hit"  # kept while shedding: cheap

    clock.advance(31)
    response = client.get(book.get_absolute_url())

    assert "X-Load-Shedding" not in response
    assert response["X-Page-Cache"] == "miss"
    assert RELATED in response.content.decode()
    assert "s-maxage=300" in response["Cache-Control"]


def test_a_full_page_kept_before_shedding_is_still_served_while_shedding(client, book, clock):
    client.get(book.get_absolute_url())
    overload()

    response = client.get(book.get_absolute_url())

    assert response["X-Page-Cache"] == "hit"
    assert RELATED in response.content.decode()


def test_a_briefly_kept_page_is_current_for_its_seconds_only(client, book, clock, monkeypatch):
    overload()
    client.get(book.get_absolute_url())
    entry = next(iter(local_pages._copies.values())).entry

    monkeypatch.setattr(page_cache.time, "time", lambda: entry.rendered_at + 9.9)
    assert page_cache._is_current(entry) is True
    monkeypatch.setattr(page_cache.time, "time", lambda: entry.rendered_at + 10.1)
    assert page_cache._is_current(entry) is False
