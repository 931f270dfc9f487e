"""The home page: new releases, top rated, and one shelf per biggest root category."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.services import books_adjust_price
from cloudshelf.edge.page_cache import pages_changed
from tests.factories import BookFactory, CategoryFactory

pytestmark = pytest.mark.django_db


def shelves(response) -> dict[str, list[str]]:
    return {shelf.title: [book.title for book in shelf.books] for shelf in response.context["shelves"]}


def test_home_shows_new_releases_newest_first_and_not_future_books(client):
    today = timezone.localdate()
    BookFactory(title="Last year", publication_date=today - timedelta(days=365))
    BookFactory(title="Yesterday", publication_date=today - timedelta(days=1))
    BookFactory(title="Next month", publication_date=today + timedelta(days=30))
    BookFactory(title="Undated", publication_date=None)

    response = client.get("/")

    assert response.status_code == 200
    assert shelves(response)["New releases"] == ["Yesterday", "Last year"]


def test_top_rated_needs_enough_ratings(client):
    BookFactory(title="Loved by many", average_rating=Decimal("4.80"), ratings_count=5000)
    BookFactory(title="Liked by many", average_rating=Decimal("4.10"), ratings_count=300)
    BookFactory(title="One fan", average_rating=Decimal("5.00"), ratings_count=1)

    assert shelves(client.get("/"))["Top rated"] == ["Loved by many", "Liked by many"]


def test_home_has_a_bestseller_shelf_for_the_biggest_root_categories(client, settings):
    settings.CATALOG_HOME_CATEGORY_ROWS = 2
    big, middle, small = (CategoryFactory(name=name) for name in ("Big", "Middle", "Small"))
    big_child = CategoryFactory(name="Big child", parent=big)
    for index in range(3):
        BookFactory(title=f"Big {index}", category=big_child if index else big, popularity=index)
    BookFactory.create_batch(2, category=middle)
    BookFactory(category=small)

    titles = shelves(client.get("/"))

    assert titles["Big"] == ["Big 2", "Big 1", "Big 0"]  # descendants included, bestselling first
    assert "Middle" in titles
    assert "Small" not in titles


def test_home_shelves_link_to_their_full_listing(client):
    category = CategoryFactory(name="Poetry", slug="poetry")
    BookFactory(category=category, publication_date=date(2020, 1, 1), ratings_count=200)

    html = client.get("/").content.decode()

    assert 'href="/books/?sort=newest">See all<span class="visually-hidden"> New releases</span>' in html
    assert 'href="/categories/poetry/">See all<span class="visually-hidden"> Poetry</span>' in html


def test_home_layout_is_cached_but_prices_are_fresh(client, django_capture_on_commit_callbacks):
    book = BookFactory(title="Priced", publication_date=date(2020, 1, 1), price=Decimal("10.00"))
    client.get("/")
    with django_capture_on_commit_callbacks(execute=True):  # changes retire kept pages on commit
        BookFactory(title="Added after caching", publication_date=date(2021, 1, 1))
        books_adjust_price(book_ids=[book.pk], percent=Decimal("-25"))

    response = client.get("/")

    assert shelves(response)["New releases"] == ["Priced"]
    assert "$7.50" in response.content.decode()


def test_empty_catalog_home_page_still_renders(client):
    response = client.get("/")

    assert response.status_code == 200
    assert "The shelves are still being stocked" in response.content.decode()


def test_home_page_has_landmarks_skip_link_and_seo_tags(client, settings):
    settings.SITE_URL = "https://shop.example"

    html = client.get("/").content.decode()

    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert '<header class="site-header">' in html
    assert '<footer class="site-footer">' in html
    assert '<nav class="category-nav" aria-label="Categories">' in html
    assert '<label class="visually-hidden" for="site-search">Search books</label>' in html
    assert "<title>CloudShelf · Books for every shelf</title>" in html
    assert '<link rel="canonical" href="https://shop.example/">' in html
    assert '<meta property="og:type" content="website">' in html
    assert '<meta name="description" content="Shop new releases' in html


def test_navigation_lists_root_categories(client):
    CategoryFactory(name="Science", slug="science")
    CategoryFactory(name="Arts", slug="arts")

    html = client.get("/").content.decode()

    assert html.index('href="/categories/arts/">Arts</a>') < html.index('href="/categories/science/">Science</a>')


@pytest.mark.parametrize("size", [2, 20])
def test_home_query_count_is_fixed(client, django_assert_num_queries, size):
    categories = [CategoryFactory(name=f"Root {index}") for index in range(2)]
    for index in range(size):
        BookFactory(
            category=categories[index % 2],
            publication_date=date(2020, 1, 1) + timedelta(days=index),
            ratings_count=150,
            average_rating=Decimal("4.00"),
        )

    # Cold cache: nav, new releases, top rated, books per category, one query per category
    # shelf (2), then the cards of every shelf in one query plus their authors.
    with django_assert_num_queries(8):
        assert client.get("/").status_code == 200
    # The kept page: nothing.
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200
    # Rebuilt on warm caches (a shown book changed): only the cards.
    pages_changed(["listing:all"])
    with django_assert_num_queries(2):
        assert client.get("/").status_code == 200
