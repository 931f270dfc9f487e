"""Sign up, log in, log out and the password reset flow (/accounts/)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


PASSWORD = "correct horse battery staple"
NEW_ACCOUNT = {"username": "carol", "email": "carol@example.com", "password1": "a-Long-pass-phrase-42", "password2": ""}
NEW_ACCOUNT["password2"] = NEW_ACCOUNT["password1"]


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def test_sign_up_creates_the_account_and_logs_in(client):
    response = client.post("/accounts/signup/", NEW_ACCOUNT)

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = get_user_model().objects.get(username="carol")
    assert user.email == "carol@example.com"
    assert user.check_password(NEW_ACCOUNT["password1"])
    assert logged_in_user_id(client) == str(user.pk)
    assert "Welcome to CloudShelf, carol!" in client.get("/").content.decode()


def test_sign_up_returns_to_a_safe_next_url_only(client):
    local = client.post("/accounts/signup/?next=/books/", NEW_ACCOUNT)
    client.logout()
    foreign = client.post(
        "/accounts/signup/?next=https://evil.example/", NEW_ACCOUNT | {"username": "dave", "email": "d@example.com"}
    )

    assert local["Location"] == "/books/"
    assert foreign["Location"] == "/"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"email": ""}, "This field is required."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"email": "ALICE@example.com"}, "An account with this e-mail address already exists."),
        ({"username": "alice"}, "A user with that username already exists."),
        ({"password2": "something-else"}, "The two password fields didn"),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
    ],
)
def test_sign_up_rejects_bad_input_and_creates_nothing(client, customer, change, error):
    response = client.post("/accounts/signup/", NEW_ACCOUNT | change)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]
    assert logged_in_user_id(client) is None


def test_sign_up_page_is_styled_and_labelled(client):
    html = client.get("/accounts/signup/").content.decode()

    assert '<h1 class="card__title card__title--page">Create an account</h1>' in html
    assert '<label for="id_email">E-mail address</label>' in html
    assert '<label for="id_username">Username</label>' in html
    assert '<meta name="robots" content="noindex">' in html


def test_logged_in_customers_are_sent_home_from_sign_up(customer_client):
    assert customer_client.get("/accounts/signup/")["Location"] == "/"


def test_log_in_with_the_right_password(client, customer):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/books/"})

    assert response.status_code == 302
    assert response["Location"] == "/books/"
    assert logged_in_user_id(client) == str(customer.pk)


def test_log_in_without_next_goes_home(client, customer):
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})

    assert response["Location"] == "/"


def test_log_in_with_a_wrong_password_shows_an_error(client, customer):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password." in response.content.decode()
    assert logged_in_user_id(client) is None


def test_log_out_is_a_post(customer_client):
    assert customer_client.get("/accounts/logout/").status_code == 405
    assert logged_in_user_id(customer_client) is not None

    response = customer_client.post("/accounts/logout/")

    assert response["Location"] == "/"
    assert logged_in_user_id(customer_client) is None


def test_header_shows_account_links_for_visitors_and_customers(client, customer):
    visitor = client.get("/books/").content.decode()
    client.force_login(customer)
    member = client.get("/books/").content.decode()

    assert 'href="/accounts/login/?next=/books/">Log in</a>' in visitor
    assert 'href="/accounts/signup/">Sign up</a>' in visitor
    assert 'action="/accounts/logout/"' in member
    assert "alice" in member


def test_password_reset_emails_a_link_that_sets_a_new_password(client, customer):
    response = client.post("/accounts/password-reset/", {"email": "alice@example.com"})

    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "Reset your CloudShelf password"
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-New-secret-77", "new_password2": "brand-New-secret-77"},
    )

    assert done["Location"] == "/accounts/reset/done/"
    customer.refresh_from_db()
    assert customer.check_password("brand-New-secret-77")


def test_password_reset_for_an_unknown_address_sends_nothing_but_looks_the_same(client, customer):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []


def test_expired_reset_link_explains_what_to_do(client):
    user = UserFactory()

    response = client.get(f"/accounts/reset/{user.pk}/not-a-token/")

    assert "This link has expired" in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password-reset/",
        "/accounts/password-reset/sent/",
        "/accounts/reset/done/",
    ],
)
def test_account_pages_render_with_the_site_template(client, url):
    response = client.get(url)

    assert response.status_code == 200
    assert '<header class="site-header">' in response.content.decode()
