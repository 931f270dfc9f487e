"""The book page (/books/<isbn13>/<slug>/) and its short link (/books/<isbn13>/)."""

import json
import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache, caches

from catalog.models import Book
from cloudshelf.edge.page_cache import pages_changed
from tests.factories import AuthorFactory, BookFactory, CategoryFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    fiction = CategoryFactory(name="Fiction", slug="fiction")
    fantasy = CategoryFactory(name="Fantasy", slug="fantasy", parent=fiction)
    return BookFactory(
        title="The Hobbit",
        slug="the-hobbit",
        subtitle="There and Back Again",
        description="A hobbit goes on an adventure.\n\nDragons are involved.",
        price=Decimal("14.99"),
        currency="GBP",
        publisher="Allen & Unwin",
        publication_date=date(1937, 9, 21),
        page_count=310,
        language="en",
        average_rating=Decimal("4.27"),
        ratings_count=3204,
        category=fantasy,
        authors=[AuthorFactory(name="J. R. R. Tolkien", slug="tolkien")],
        stock=0,
    )


def json_ld(html: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match, "no JSON-LD block"
    return json.loads(match.group(1))


def test_book_page_shows_details_price_stock_and_rating(client, book):
    response = client.get(f"/books/{book.isbn13}/the-hobbit/")
    html = response.content.decode()

    assert response.status_code == 200
    assert '<h1 id="book-title" class="book__title">The Hobbit</h1>' in html
    assert "There and Back Again" in html
    assert 'by <a href="/authors/tolkien/">J. R. R. Tolkien</a>' in html
    assert '<p class="buy-box__price">£14.99</p>' in html
    assert '<span class="badge badge--out">Out of stock</span>' in html
    assert 'aria-label="Rated 4.3 out of 5 from 3,204 ratings"' in html
    assert "<p>Dragons are involved.</p>" in html
    assert '<tr><th scope="row">Publisher</th><td>Allen &amp; Unwin</td></tr>' in html
    assert "21 September 1937" in html
    assert '<tr><th scope="row">Pages</th><td>310</td></tr>' in html
    assert '<tr><th scope="row">Language</th><td>English</td></tr>' in html
    assert f'<tr><th scope="row">ISBN-13</th><td>{book.isbn13}</td></tr>' in html


@pytest.mark.parametrize(
    ("stock", "badge"), [(12, "In stock"), (5, "Only 5 left"), (1, "Only 1 left"), (0, "Out of stock")]
)
def test_stock_badge_follows_stock_on_hand(client, stock, badge):
    book = BookFactory(stock=stock)

    assert f">{badge}</span>" in client.get(book.get_absolute_url()).content.decode()


def test_book_page_breadcrumbs_follow_the_category_tree(client, book):
    html = client.get(book.get_absolute_url()).content.decode()

    assert '<a href="/categories/fiction/">Fiction</a>' in html
    assert '<a href="/categories/fiction/fantasy/">Fantasy</a>' in html
    assert '<span aria-current="page">The Hobbit</span>' in html


def test_wrong_slug_redirects_permanently_to_the_canonical_url(client, book):
    response = client.get(f"/books/{book.isbn13}/the-hobbbit/", {"reviews_page": 2})

    assert response.status_code == 301
    assert response["Location"] == f"/books/{book.isbn13}/the-hobbit/?reviews_page=2"


def test_isbn_short_link_redirects_to_the_book(client, book):
    response = client.get(f"/books/{book.isbn13}/")

    assert response.status_code == 301
    assert response["Location"] == f"/books/{book.isbn13}/the-hobbit/"


@pytest.mark.parametrize("url", ["/books/9780000000000/x/", "/books/9780000000000/", "/books/12345/x/"])
def test_unknown_or_malformed_isbn_is_404(client, book, url):
    assert client.get(url).status_code == 404


def test_book_page_has_canonical_og_book_tags_and_json_ld(client, settings, book):
    settings.SITE_URL = "https://shop.example"
    url = f"https://shop.example/books/{book.isbn13}/the-hobbit/"

    html = client.get(book.get_absolute_url()).content.decode()

    assert "<title>The Hobbit by J. R. R. Tolkien · CloudShelf</title>" in html
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert '<meta property="og:type" content="book">' in html
    assert f'<meta property="book:isbn" content="{book.isbn13}">' in html
    assert '<meta name="description" content="A hobbit goes on an adventure.' in html
    assert "og:image" not in html  # a generated cover has no image URL
    data = json_ld(html)
    assert data["@type"] == "Book"
    assert data["isbn"] == book.isbn13
    assert data["author"] == [{"@type": "Person", "name": "J. R. R. Tolkien"}]
    assert data["offers"] == {
        "@type": "Offer",
        "price": "14.99",
        "priceCurrency": "GBP",
        "availability": "https://schema.org/OutOfStock",
        "url": url,
    }
    assert data["aggregateRating"]["ratingCount"] == 3204


def test_json_ld_cannot_be_broken_out_of(client):
    book = BookFactory(title="</script><script>alert(1)</script>", description="a & b <i>")

    html = client.get(book.get_absolute_url()).content.decode()

    assert "<script>alert(1)" not in html
    assert json_ld(html)["name"] == "</script><script>alert(1)</script>"


def test_a_cover_not_yet_fetched_is_never_hot_linked(client):
    """Until our copy exists (catalog.cover_fetch) the generated cover shows, never the source host's image."""
    book = BookFactory(title="Pictured", cover_url="https://images.example/pictured.jpg")

    html = client.get(book.get_absolute_url()).content.decode()

    assert "images.example" not in html
    assert '<svg class="cover cover--large"' in html
    assert 'property="og:image"' not in html


def test_book_without_cover_gets_a_generated_one(client, book):
    html = client.get(book.get_absolute_url()).content.decode()

    assert '<svg class="cover cover--large"' in html
    assert 'role="img" aria-label="Cover of The Hobbit by J. R. R. Tolkien"' in html


def test_reviews_are_paginated_newest_first(client, settings, book):
    settings.CATALOG_REVIEWS_PAGE_SIZE = 2
    for index in range(5):
        ReviewFactory(book=book, title=f"Review {index}", user__password=None)
    book.review_count = 5
    book.save()

    first = client.get(book.get_absolute_url())
    third = client.get(book.get_absolute_url(), {"reviews_page": 3})

    assert [review.title for review in first.context["reviews"].reviews] == ["Review 4", "Review 3"]
    assert [review.title for review in third.context["reviews"].reviews] == ["Review 0"]
    assert client.get(book.get_absolute_url(), {"reviews_page": 4}).status_code == 404
    assert f'href="/books/{book.isbn13}/the-hobbit/?reviews_page=2#reviews" rel="next"' in first.content.decode()


@pytest.mark.parametrize("reviews_page", ["abc", "-1", "99999999999999999999"])
def test_hostile_reviews_page_is_404(client, book, reviews_page):
    assert client.get(book.get_absolute_url(), {"reviews_page": reviews_page}).status_code == 404


def test_related_books_come_from_the_same_authors_then_the_category(client, book):
    tolkien = book.book_authors.get().author
    same_author = BookFactory(title="The Silmarillion", authors=[tolkien], popularity=1)
    same_category = BookFactory(title="Earthsea", category=book.category, popularity=99)
    BookFactory(title="Unrelated", popularity=1000)

    response = client.get(book.get_absolute_url())

    assert [related.title for related in response.context["related_books"]] == [same_author.title, same_category.title]


def test_related_books_are_bounded(client, book):
    BookFactory.create_batch(8, category=book.category)

    assert len(client.get(book.get_absolute_url()).context["related_books"]) == 6


def _book_with_everything(size: int):
    category = CategoryFactory(name="Fiction")
    authors = AuthorFactory.create_batch(size)
    book = BookFactory(category=category, authors=authors)
    BookFactory.create_batch(size, category=category, authors=authors[:2])
    for _ in range(size):
        ReviewFactory(book=book, user=UserFactory(password=None))  # no password hashing: fast
    book.review_count = size
    book.save()
    return book


@pytest.mark.parametrize("size", [2, 12])
def test_book_page_query_count_is_fixed_for_anonymous_visitors(client, django_assert_num_queries, size):
    book = _book_with_everything(size)

    # Nav, book (with category and stock), authors, category trail, the authors' other
    # books (a title naming no series costs no series query), reviews with their users,
    # related ids by author and by category, related cards and their authors.
    with django_assert_num_queries(10):
        assert client.get(book.get_absolute_url()).status_code == 200
    with django_assert_num_queries(0):  # the kept page
        assert client.get(book.get_absolute_url()).status_code == 200
    pages_changed([f"book:{book.pk}"])
    # Rebuilt after a change to the book: the book and its authors; its reviews, the
    # reading links and the related row are kept fragments (cloudshelf.edge.fragments)
    # none of whose tags changed.
    with django_assert_num_queries(2):
        assert client.get(book.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("size", [2, 12])
def test_book_page_query_count_is_fixed_for_a_customer_with_a_review(
    customer_client, customer, django_assert_num_queries, size
):
    book = _book_with_everything(size)
    ReviewFactory(book=book, user=customer)
    cache.clear()
    caches["durable"].clear()  # the session cache: it is read from the database, as on a cold cache

    # As for visitors, plus the session, the customer and their own review.
    with django_assert_num_queries(13):
        response = customer_client.get(book.get_absolute_url())
    assert "Edit your review" in response.content.decode()


def test_a_series_costs_one_more_query_and_a_book_without_authors_none(client, django_assert_num_queries):
    author = AuthorFactory()
    series_book = BookFactory(title="Catching Fire (The Hunger Games, #2)", authors=[author])
    BookFactory(title="Mockingjay (The Hunger Games, #3)", authors=[author])
    alone = BookFactory(authors=[])

    with django_assert_num_queries(11):  # as above, plus the series
        assert client.get(series_book.get_absolute_url()).status_code == 200
    # No authors: no reading links and no related ids by author (the nav is cached by now,
    # and the category holds no other book, so no related cards either).
    with django_assert_num_queries(5):
        assert client.get(alone.get_absolute_url()).status_code == 200


@pytest.fixture
def imported_book():
    """A book as a Goodreads-style import brings it: a series in the title, a year, ratings, nothing else."""
    collins = AuthorFactory(name="Suzanne Collins", slug="suzanne-collins")
    book = BookFactory(
        title="The Hunger Games (The Hunger Games, #1)",
        slug="the-hunger-games",
        description="",
        publisher="",
        page_count=None,
        publication_date=date(2008, 1, 1),
        external_average_rating=Decimal("4.34"),
        external_ratings_count=4780653,
        average_rating=Decimal("4.34"),
        ratings_count=4780653,
        authors=[collins],
        popularity=10,
    )
    BookFactory(title="Mockingjay (The Hunger Games, #3)", slug="mockingjay", authors=[collins], popularity=30)
    BookFactory(title="Catching Fire (The Hunger Games, #2)", slug="catching-fire", authors=[collins], popularity=50)
    BookFactory(title="The Ballad of Songbirds and Snakes", slug="ballad", authors=[collins], popularity=40)
    BookFactory(title="Gregor the Overlander (Underland Chronicles, #1)", slug="gregor", authors=[collins])
    BookFactory(title="Fake (The Hunger Games, #4)", slug="fake")  # same series name, another author
    return book


def test_ratings_are_counted_in_words_and_apart_from_the_reviews(client, imported_book):
    html = client.get(imported_book.get_absolute_url()).content.decode()

    assert '<span class="rating__count" aria-hidden="true">4,780,653 ratings</span>' in html
    assert "(4,780,653)" not in html
    assert "No reviews yet — be the first to tell other readers what you thought." in html
    assert "The star rating also counts ratings given on other sites; the reviews below are written here." in html


def test_an_imported_book_shows_its_year_and_series_and_no_empty_rows(client, imported_book):
    html = client.get(imported_book.get_absolute_url()).content.decode()

    assert '<tr><th scope="row">Published</th><td><time datetime="2008-01-01">2008</time></td></tr>' in html
    assert '<tr><th scope="row">Series</th><td>The Hunger Games, book 1</td></tr>' in html
    assert "About this book" not in html
    assert ">Publisher<" not in html
    assert ">Pages<" not in html
    assert "<td></td>" not in html


def test_a_full_date_is_still_shown_in_full(client, book):
    html = client.get(book.get_absolute_url()).content.decode()

    assert '<time datetime="1937-09-21">21 September 1937</time>' in html
    assert ">Series<" not in html


def test_the_series_is_listed_in_reading_order_and_more_by_the_author_by_popularity(client, imported_book):
    response = client.get(imported_book.get_absolute_url())
    html = response.content.decode()

    series = re.search(r'<h3 id="series-books-title"[^>]*>(.*?)</h3>\s*<ol[^>]*>(.*?)</ol>', html, re.S)
    assert series.group(1) == "The Hunger Games series"
    assert re.findall(r"<li>(.*?)</li>", series.group(2)) == [
        '<span class="reading-links__volume">1.</span> <span aria-current="page">The Hunger Games</span>',
        '<span class="reading-links__volume">2.</span> <a href="/books/{}/catching-fire/">Catching Fire</a>'.format(
            Book.objects.get(slug="catching-fire").isbn13
        ),
        '<span class="reading-links__volume">3.</span> <a href="/books/{}/mockingjay/">Mockingjay</a>'.format(
            Book.objects.get(slug="mockingjay").isbn13
        ),
    ]
    more = re.search(r'<h3 id="author-books-title"[^>]*>(.*?)</h3>\s*<ul[^>]*>(.*?)</ul>', html, re.S)
    assert more.group(1) == "More by Suzanne Collins"
    # The series' own volumes are not repeated; the rest by popularity.
    assert re.findall(r">([^<>]+)</a>", more.group(2)) == [
        "The Ballad of Songbirds and Snakes",
        "Gregor the Overlander (Underland Chronicles, #1)",
    ]


def test_a_book_alone_shows_no_reading_lists(client):
    html = client.get(BookFactory(title="Alone", authors=[AuthorFactory()]).get_absolute_url()).content.decode()

    assert "reading-links" not in html


def test_reading_lists_are_capped(client, settings):
    author = AuthorFactory()
    book = BookFactory(title="Volume (Long Saga, #1)", authors=[author])
    for number in range(2, 20):
        BookFactory(title=f"Volume {number} (Long Saga, #{number})", authors=[author])
    BookFactory.create_batch(10, authors=[author])

    html = client.get(book.get_absolute_url()).content.decode()

    series = re.search(r'<ol class="reading-links__list"[^>]*>(.*?)</ol>', html, re.S).group(1)
    more = re.search(r'<ul class="reading-links__list"[^>]*>(.*?)</ul>', html, re.S).group(1)
    assert series.count("<li>") == 12
    assert "Volume 12</a>" in series
    assert "Volume 13" not in series
    assert more.count("<li>") == 6
