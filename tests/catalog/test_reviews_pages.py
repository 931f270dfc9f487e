"""Writing and editing reviews from the book page."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import Client

from catalog import services
from catalog.models import Book, Review
from tests.factories import BookFactory, ReviewFactory

pytestmark = pytest.mark.django_db


VALID = {"rating": "5", "title": "A classic", "body": "Read it twice."}


@pytest.fixture
def book():
    return BookFactory(title="Dune", slug="dune")


def create_url(book) -> str:
    return f"/reviews/new/{book.isbn13}/"


def edit_url(review) -> str:
    return f"/reviews/{review.pk}/edit/"


def test_customer_publishes_a_review_and_the_rating_updates(customer_client, customer, book):
    response = customer_client.post(create_url(book), VALID)

    assert response.status_code == 302
    assert response["Location"] == f"/books/{book.isbn13}/dune/#reviews"
    review = Review.objects.get()
    assert (review.user, review.book, review.rating, review.title, review.body) == (
        customer,
        book,
        5,
        "A classic",
        "Read it twice.",
    )
    book.refresh_from_db()
    assert (book.average_rating, book.review_count) == (Decimal("5.00"), 1)
    page = customer_client.get(response["Location"]).content.decode()
    assert "Thank you! Your review is published." in page
    assert "Edit your review" in page


def test_book_page_offers_the_review_form_to_customers_without_a_review(customer_client, book):
    html = customer_client.get(book.get_absolute_url()).content.decode()

    assert f'action="{create_url(book)}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<legend class="field__label">Your rating</legend>' in html
    assert '<span class="visually-hidden">5 stars</span>' in html
    assert '<label for="id_title">Title</label>' in html


def test_anonymous_visitors_see_a_log_in_link_instead_of_the_form(client, book):
    html = client.get(book.get_absolute_url()).content.decode()

    assert "Log in to review" in html
    assert f'href="/accounts/login/?next=/books/{book.isbn13}/dune/%23reviews"' in html
    assert create_url(book) not in html


def test_anonymous_visitors_cannot_post_a_review(client, book):
    response = client.post(create_url(book), VALID)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")
    assert not Review.objects.exists()


def test_review_posts_need_a_csrf_token(customer, book):
    strict_client = Client(enforce_csrf_checks=True)
    strict_client.force_login(customer)

    response = strict_client.post(create_url(book), VALID)

    assert response.status_code == 403
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"rating": "0"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "6"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": "abc"}, "Choose a rating from 1 to 5 stars."),
        ({"rating": ""}, "Choose a rating from 1 to 5 stars."),
        ({"title": ""}, "Give your review a title."),
        ({"title": "   "}, "Give your review a title."),
        ({"body": ""}, "Write a few words about the book."),
        ({"body": "x" * 20_000}, "Ensure this value has at most 10000 characters (it has 20000)."),
    ],
)
def test_bad_review_input_shows_errors_and_creates_nothing(customer_client, book, change, error):
    response = customer_client.post(create_url(book), VALID | change)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode() or "field--invalid" in response.content.decode()
    assert not Review.objects.exists()
    book.refresh_from_db()
    assert book.review_count == 0


def test_service_refusals_are_shown_on_the_form(customer_client, customer, book):
    ReviewFactory(book=book, user=customer, title="First")

    response = customer_client.post(create_url(book), VALID)

    assert response.status_code == 200
    assert "You have already reviewed this book; edit your review instead." in response.content.decode()
    assert list(Review.objects.values_list("title", flat=True)) == ["First"]


def test_customer_edits_their_own_review(customer_client, customer, book):
    review = ReviewFactory(book=book, user=customer, rating=2, title="Meh", body="Not for me.")

    form = customer_client.get(edit_url(review))
    response = customer_client.post(edit_url(review), {"rating": "4", "title": "Grew on me", "body": "Reread it."})

    assert 'value="Meh"' in form.content.decode()
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.rating, review.title, review.body) == (4, "Grew on me", "Reread it.")
    book.refresh_from_db()
    assert book.average_rating == Decimal("4.00")


def test_editing_with_bad_input_changes_nothing(customer_client, customer, book):
    review = ReviewFactory(book=book, user=customer, rating=2, title="Meh", body="Not for me.")

    response = customer_client.post(edit_url(review), {"rating": "9", "title": "", "body": "Changed"})

    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.rating, review.title, review.body) == (2, "Meh", "Not for me.")


def test_nobody_can_edit_another_customers_review(client, other_customer, book):
    review = ReviewFactory(book=book, user=other_customer, rating=3, title="Mine", body="My words.")
    intruder = ReviewFactory(book=BookFactory()).user
    client.force_login(intruder)

    assert client.get(edit_url(review)).status_code == 404
    assert client.post(edit_url(review), VALID).status_code == 404
    review.refresh_from_db()
    assert (review.rating, review.title, review.body) == (3, "Mine", "My words.")


def test_anonymous_visitors_cannot_edit_reviews(client, book):
    review = ReviewFactory(book=book, title="Untouched")

    response = client.post(edit_url(review), VALID)

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.title == "Untouched"


def test_reviewing_an_unknown_book_is_404(customer_client):
    assert customer_client.post("/reviews/new/9780000000002/", VALID).status_code == 404
    assert not Review.objects.exists()


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _submit_during_an_uncommitted_first_review(customer, book, *, first: dict, second: dict) -> HttpResponse:
    """The double-click race, made certain: the second POST arrives while the first review is
    written but not yet committed, so it cannot see it; the first commits once the second waits."""
    first_written, release_first = threading.Event(), threading.Event()
    answers: list[HttpResponse] = []

    def first_submission() -> None:
        try:
            with transaction.atomic():
                services.review_create(
                    book=book, user=customer, rating=int(first["rating"]), title=first["title"], body=first["body"]
                )
                first_written.set()
                release_first.wait(timeout=10)
        finally:
            connection.close()

    def second_submission() -> None:
        try:
            browser = Client()
            browser.force_login(customer)
            first_written.wait(timeout=10)
            answers.append(browser.post(create_url(book), second))
        finally:
            connection.close()

    threads = [threading.Thread(target=first_submission), threading.Thread(target=second_submission)]
    for thread in threads:
        thread.start()
    assert first_written.wait(timeout=10)
    deadline = time.monotonic() + 10
    while _backends_waiting_on_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    release_first.set()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 1, "the second submission raised (a 500 in production)"
    return answers[0]


@pytest.mark.django_db(transaction=True)
def test_a_double_submitted_review_publishes_one_review_and_both_submits_succeed(customer, book):
    response = _submit_during_an_uncommitted_first_review(customer, book, first=VALID, second=VALID)

    assert response.status_code == 302
    assert response["Location"] == f"/books/{book.isbn13}/dune/#reviews"
    assert list(Review.objects.values_list("user__username", "title")) == [("alice", "A classic")]
    book.refresh_from_db()
    assert (book.review_count, book.average_rating) == (1, Decimal("5.00"))


@pytest.mark.django_db(transaction=True)
def test_a_different_review_racing_the_first_is_refused_with_a_message(customer, book):
    second = {"rating": "1", "title": "Changed my mind", "body": "Dull."}

    response = _submit_during_an_uncommitted_first_review(customer, book, first=VALID, second=second)

    assert response.status_code == 200
    assert "You have already reviewed this book; edit your review instead." in response.content.decode()
    assert list(Review.objects.values_list("title", "rating")) == [("A classic", 5)]


def test_submitting_the_same_review_again_later_is_not_an_error(customer_client, customer, book):
    customer_client.post(create_url(book), VALID)

    response = customer_client.post(create_url(book), VALID)

    assert response.status_code == 302
    assert Review.objects.filter(user=customer, book=book).count() == 1


def test_a_review_of_a_book_removed_meanwhile_is_refused_with_a_message(customer, book):
    Book.objects.filter(pk=book.pk).delete()

    with pytest.raises(services.CatalogError, match="no longer in the catalog"):
        services.review_create(book=book, user=customer, rating=5, title="Late", body="Too late.")

    assert not Review.objects.exists()
