from decimal import Decimal

import pytest

from catalog import services
from catalog.models import Book, Review
from tests.factories import BookFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_first_review_sets_average_and_counts(customer):
    book = BookFactory()

    services.review_create(book=book, user=customer, rating=4, title="Good", body="Liked it.")

    book.refresh_from_db()
    assert (book.average_rating, book.ratings_count, book.review_count) == (Decimal("4.00"), 1, 1)


def test_reviews_are_averaged_on_top_of_imported_ratings(customer, other_customer):
    book = BookFactory(external_average_rating=Decimal("3.00"), external_ratings_count=8)

    services.review_create(book=book, user=customer, rating=5, title="Great", body="Loved it.")
    services.review_create(book=book, user=other_customer, rating=5, title="Also great", body="Yes.")

    book.refresh_from_db()
    # (3.00 * 8 + 5 + 5) / 10 = 3.40
    assert (book.average_rating, book.ratings_count, book.review_count) == (Decimal("3.40"), 10, 2)


def test_editing_a_review_recomputes_the_average(customer, other_customer):
    book = BookFactory()
    review = services.review_create(book=book, user=customer, rating=1, title="Meh", body="Not for me.")
    services.review_create(book=book, user=other_customer, rating=4, title="Fine", body="Fine.")

    services.review_update(review=review, user=customer, rating=2, title="Meh", body="Second look.")

    book.refresh_from_db()
    assert (book.average_rating, book.ratings_count) == (Decimal("3.00"), 2)


def test_deleting_the_last_review_resets_the_rating(customer):
    book = BookFactory()
    review = services.review_create(book=book, user=customer, rating=3, title="Ok", body="Ok.")

    services.review_delete(review=review)

    book.refresh_from_db()
    assert (book.average_rating, book.ratings_count, book.review_count) == (Decimal("0"), 0, 0)


def test_average_rounds_half_up_to_cents(customer, other_customer):
    book = BookFactory()
    third = UserFactory()
    for user, rating in [(customer, 5), (other_customer, 4), (third, 4)]:
        services.review_create(book=book, user=user, rating=rating, title="t", body="b")

    book.refresh_from_db()
    assert book.average_rating == Decimal("4.33")


def test_a_second_review_by_the_same_customer_is_refused(customer):
    book = BookFactory()
    services.review_create(book=book, user=customer, rating=4, title="Good", body="Liked it.")

    with pytest.raises(services.CatalogError, match="already reviewed"):
        services.review_create(book=book, user=customer, rating=1, title="Changed", body="Hated it.")

    assert Review.objects.filter(book=book).count() == 1
    assert Book.objects.get(pk=book.pk).average_rating == Decimal("4.00")


def test_nobody_edits_another_customers_review(customer, other_customer):
    review = ReviewFactory(user=customer, rating=5, title="Mine", body="My words.")

    with pytest.raises(services.CatalogError, match="your own review"):
        services.review_update(review=review, user=other_customer, rating=1, title="Hacked", body="Gotcha.")

    review.refresh_from_db()
    assert (review.rating, review.title, review.body) == (5, "Mine", "My words.")


@pytest.mark.parametrize(
    ("rating", "title", "body", "message"),
    [
        (0, "t", "b", "1 to 5"),
        (6, "t", "b", "1 to 5"),
        ("5", "t", "b", "1 to 5"),
        (True, "t", "b", "1 to 5"),
        (3, "   ", "b", "title"),
        (3, "x" * 201, "b", "200"),
        (3, "t", "  ", "few words"),
        (3, "t", "x" * 10_001, "10,000"),
    ],
)
def test_bad_review_input_is_refused_and_saves_nothing(customer, rating, title, body, message):
    book = BookFactory()

    with pytest.raises(services.CatalogError, match=message):
        services.review_create(book=book, user=customer, rating=rating, title=title, body=body)

    assert not Review.objects.exists()
    book.refresh_from_db()
    assert (book.average_rating, book.ratings_count) == (Decimal("0"), 0)


def test_bulk_refresh_matches_per_book_refresh(customer, other_customer):
    first, second = BookFactory(external_average_rating=Decimal("4.50"), external_ratings_count=2), BookFactory()
    ReviewFactory(book=first, user=customer, rating=3)
    ReviewFactory(book=second, user=other_customer, rating=2)
    Book.objects.update(average_rating=0, ratings_count=0, review_count=0)

    updated = services.books_refresh_ratings()

    assert updated == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.average_rating, first.ratings_count, first.review_count) == (Decimal("4.00"), 3, 1)
    assert (second.average_rating, second.ratings_count, second.review_count) == (Decimal("2.00"), 1, 1)


def test_books_changed_is_announced_after_commit(customer, django_capture_on_commit_callbacks):
    from catalog.signals import books_changed

    received = []

    def listener(sender, book_ids, **kwargs):
        received.append(book_ids)

    books_changed.connect(listener)
    try:
        book = BookFactory()
        with django_capture_on_commit_callbacks(execute=True):
            services.review_create(book=book, user=customer, rating=4, title="t", body="b")
    finally:
        books_changed.disconnect(listener)

    assert received == [[book.pk]]
