"""Verified purchases: anyone may review, a review by a customer who bought the book is marked and filterable."""

import re

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog import services
from catalog.models import Review
from tests.factories import BookFactory, OrderFactory, OrderLineFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    return BookFactory(title="Dune", slug="dune")


def buy(user, book, status="paid"):
    return OrderLineFactory(order=OrderFactory(user=user, status=status), book=book)


def write_review(user, book) -> Review:
    return services.review_create(book=book, user=user, rating=5, title="Spice", body="Must flow.")


@pytest.mark.parametrize(("status", "is_verified"), [("paid", True), ("shipped", True)])
def test_a_review_by_a_customer_who_bought_the_book_is_verified(customer, book, status, is_verified):
    buy(customer, book, status)

    assert write_review(customer, book).verified_purchase is is_verified


@pytest.mark.parametrize("status", ["placed", "pending", "cancelled"])
def test_an_order_not_paid_or_cancelled_is_no_purchase(customer, book, status):
    buy(customer, book, status)

    assert write_review(customer, book).verified_purchase is False


def test_anyone_may_still_review_a_book_they_did_not_buy(customer, other_customer, book):
    buy(other_customer, book)  # someone else's order
    buy(customer, BookFactory())  # another book

    review = write_review(customer, book)

    assert review.pk is not None
    assert review.verified_purchase is False


def test_editing_a_review_after_buying_the_book_verifies_it(customer, book):
    review = write_review(customer, book)
    buy(customer, book)

    services.review_update(review=review, user=customer, rating=4, title="Spice", body="Bought it since.")

    review.refresh_from_db()
    assert review.verified_purchase is True


def test_reviews_mark_verified_marks_only_that_customers_reviews_of_those_books(customer, other_customer, book):
    mine = write_review(customer, book)
    other_book = write_review(customer, BookFactory())
    theirs = write_review(other_customer, book)

    assert services.reviews_mark_verified(user_id=customer.pk, book_ids=[book.pk]) == 1

    assert [Review.objects.get(pk=r.pk).verified_purchase for r in (mine, other_book, theirs)] == [True, False, False]
    assert services.reviews_mark_verified(user_id=customer.pk, book_ids=[book.pk]) == 0  # safe to run twice


def test_the_book_page_marks_verified_reviews_and_says_who_may_review(client, book):
    ReviewFactory(book=book, title="Bought it", verified_purchase=True, user__username="buyer", user__password=None)
    ReviewFactory(book=book, title="Borrowed it", user__username="reader", user__password=None)
    book.review_count = 2
    book.save()

    html = client.get(book.get_absolute_url()).content.decode()

    reviews = re.findall(r'<article class="review".*?</article>', html, re.S)
    badge = '<span class="review__verified">Verified purchase</span>'
    assert [("Bought it" in review, badge in review) for review in reviews] == [(False, False), (True, True)]
    assert "Anyone with an account may review a book; reviews from customers who bought it here" in html
    assert f'<a href="/books/{book.isbn13}/dune/?reviews=verified#reviews">Verified purchases</a>' in html
    assert f'<a href="/books/{book.isbn13}/dune/#reviews" aria-current="page">All reviews</a>' in html


def test_shoppers_can_list_only_verified_purchases(client, settings, book):
    settings.CATALOG_REVIEWS_PAGE_SIZE = 2
    for index in range(5):
        ReviewFactory(book=book, title=f"Review {index}", verified_purchase=index % 2 == 0, user__password=None)
    book.review_count = 5
    book.save()

    first = client.get(book.get_absolute_url(), {"reviews": "verified"})
    second = client.get(book.get_absolute_url(), {"reviews": "verified", "reviews_page": 2})

    assert [review.title for review in first.context["reviews"].reviews] == ["Review 4", "Review 2"]
    assert [review.title for review in second.context["reviews"].reviews] == ["Review 0"]
    html = first.content.decode()
    assert f'href="/books/{book.isbn13}/dune/?reviews=verified&amp;reviews_page=2#reviews" rel="next"' in html
    assert '<meta name="robots" content="noindex, follow">' in html
    assert 'aria-current="page">Verified purchases</a>' in html
    assert client.get(book.get_absolute_url(), {"reviews": "verified", "reviews_page": 3}).status_code == 404


def test_no_verified_purchases_yet_says_so(client, book):
    ReviewFactory(book=book, user__password=None)
    book.review_count = 1
    book.save()

    html = client.get(book.get_absolute_url(), {"reviews": "verified"}).content.decode()

    assert "No reviews from customers who bought this book here yet." in html


@pytest.mark.parametrize("value", ["all", "VERIFIED", "1"])
def test_an_unknown_choice_of_reviews_is_404(client, book, value):
    assert client.get(book.get_absolute_url(), {"reviews": value}).status_code == 404


def test_the_verified_filter_costs_one_count_query(client, book, django_assert_num_queries):
    ReviewFactory(book=book, verified_purchase=True, user__password=None)
    book.review_count = 1
    book.save()
    client.get(book.get_absolute_url())  # the nav, the trail and the kept fragments are cached now

    # Book, authors, the verified count (once: the list reuses it) and the verified reviews;
    # the reading links and the related row are the fragments kept by the first visit.
    with django_assert_num_queries(4):
        assert client.get(book.get_absolute_url(), {"reviews": "verified"}).status_code == 200


# --- The migration backfills the flag from orders already paid ----------------------------------------------

BEFORE = [("catalog", "0002_book_cover_fetch")]
AFTER = [("catalog", "0003_review_verified_purchase")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


@pytest.fixture
def review_before_the_flag(transactional_db):
    """Takes the catalog back to before the flag and returns the Review model of then; after the
    test the catalog is migrated to its latest state (later migrations change books too, so the
    test makes its books and orders with today's models first)."""
    yield lambda: migrate(BEFORE).loader.project_state(BEFORE[0]).apps.get_model("catalog", "Review")
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("catalog"))


def test_the_migration_marks_existing_reviews_of_bought_books(review_before_the_flag):
    buyer, shipped_buyer, reader, cancelled = customers = UserFactory.create_batch(4, password=None)
    book = BookFactory()
    buy(buyer, book)
    buy(shipped_buyer, book, "shipped")
    buy(cancelled, book, "cancelled")
    buy(reader, BookFactory())  # bought another book
    review_then = review_before_the_flag()
    fields = {"book_id": book.pk, "rating": 4, "title": "t", "body": "b"}
    ids = [review_then.objects.create(user_id=user.pk, **fields).pk for user in customers]

    migrate(AFTER)

    verified = dict(Review.objects.values_list("pk", "verified_purchase"))
    assert [verified[review_id] for review_id in ids] == [True, True, False, False]
