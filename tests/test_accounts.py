"""Sign up, log in, log out and the password reset flow (/accounts/), and their abuse limits."""

import json
import re
import socketserver
import threading
import uuid

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import pre_save
from django.test import Client

from cloudshelf.accounts import tasks
from cloudshelf.celery import app as celery_app
from tests.api.conftest import dead_redis
from tests.factories import UserFactory
from tests.workers import real_worker

pytestmark = pytest.mark.django_db

# The one answer to a sign-up whose e-mail address is taken, whoever took it and when: it
# must not confirm that the address has an account.
SIGN_UP_REFUSED = "We could not create an account with these details."


@pytest.fixture(autouse=True)
def _eager_tasks():
    """Reset mails are sent by a Celery task; here it runs in-process (a real worker sends one below)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


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
        ({"email": "ALICE@example.com"}, SIGN_UP_REFUSED),
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


def test_a_taken_email_gets_an_answer_that_does_not_say_it_has_an_account(client, customer):
    response = client.post("/accounts/signup/", NEW_ACCOUNT | {"email": " Alice@Example.com "})

    html = response.content.decode()
    assert SIGN_UP_REFUSED in html
    assert "already exists" not in html
    assert "is taken" not in html
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["alice"]


def sign_up_elsewhere(username: str, email: str) -> None:
    """Another request's sign-up: its own connection and transaction, committed."""

    def sign_up() -> None:
        try:
            UserFactory(username=username, email=email)
        finally:
            connection.close()

    other = threading.Thread(target=sign_up)
    other.start()
    other.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_racing_another_with_the_same_email_gets_the_form_error(client):
    """The other sign-up commits between this one's form check and its insert."""

    def other_sign_up_commits_first(sender, instance, **kwargs):
        if instance.username == "carol":
            pre_save.disconnect(other_sign_up_commits_first, sender=get_user_model())
            sign_up_elsewhere("racer", "CAROL@example.com")

    pre_save.connect(other_sign_up_commits_first, sender=get_user_model(), weak=False)
    try:
        response = client.post("/accounts/signup/", NEW_ACCOUNT)
    finally:
        pre_save.disconnect(other_sign_up_commits_first, sender=get_user_model())

    assert response.status_code == 200
    assert SIGN_UP_REFUSED in response.content.decode()
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["racer"]
    assert logged_in_user_id(client) is None


def test_the_database_refuses_two_accounts_on_one_email_in_any_case():
    UserFactory(username="first", email="same@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(username="second", email="SAME@example.com")


def test_accounts_without_an_email_do_not_clash():
    UserFactory(username="first", email="")
    UserFactory(username="second", email="")

    assert get_user_model().objects.filter(email="").count() == 2


def test_sign_ups_per_address_are_limited_and_a_refused_one_creates_nothing(client, settings):
    settings.SIGNUPS_PER_ADDRESS_HOUR = 2
    for name in ("dave", "erin"):
        Client(REMOTE_ADDR="198.51.100.7").post(
            "/accounts/signup/", NEW_ACCOUNT | {"username": name, "email": f"{name}@example.com"}
        )

    refused = Client(REMOTE_ADDR="198.51.100.7").post("/accounts/signup/", NEW_ACCOUNT)

    assert refused.status_code == 429
    assert 1790 < int(refused["Retry-After"]) <= 1800
    assert not get_user_model().objects.filter(username="carol").exists()
    assert Client(REMOTE_ADDR="198.51.100.8").post("/accounts/signup/", NEW_ACCOUNT).status_code == 302


# --- Login limits -------------------------------------------------------------------------


@pytest.fixture
def failed_logins():
    """Every failed authentication Django made (a refused request must make none)."""
    failures = []

    def count(sender, credentials, **kwargs):
        failures.append(credentials["username"])

    user_login_failed.connect(count, weak=False, dispatch_uid="test-failed-logins")
    yield failures
    user_login_failed.disconnect(dispatch_uid="test-failed-logins")


def log_in(password: str, *, username: str = "alice", address: str = "198.51.100.7"):
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/accounts/login/", {"username": username, "password": password})


def test_ten_failed_logins_per_account_in_15_minutes_then_429_from_any_address(customer, failed_logins):
    answers = [log_in("wrong", address=f"198.51.100.{n}")[1].status_code for n in range(10)]

    client, refused = log_in(PASSWORD, address="203.0.113.50")

    assert answers == [200] * 10
    assert refused.status_code == 429
    assert 890 < int(refused["Retry-After"]) <= 900
    assert logged_in_user_id(client) is None  # not even the right password is tried
    assert len(failed_logins) == 10
    customer.refresh_from_db()
    assert customer.last_login is None


def test_the_hour_window_holds_on_its_own(customer, settings, failed_logins):
    settings.LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES, settings.LOGIN_FAILURES_PER_ACCOUNT_HOUR = 1000, 3
    answers = [log_in("wrong", address=f"198.51.100.{n}")[1].status_code for n in range(4)]

    assert answers == [200, 200, 200, 429]
    assert len(failed_logins) == 3


def test_a_successful_login_does_not_reset_the_failures_an_attacker_built(customer, failed_logins):
    for _ in range(9):
        log_in("wrong")
    success = log_in(PASSWORD)[1]

    assert success.status_code == 302
    assert log_in("wrong")[1].status_code == 200  # the tenth failure
    assert log_in(PASSWORD)[1].status_code == 429


def test_an_account_is_counted_however_its_name_is_spelled(customer, settings, failed_logins):
    settings.LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES = 2
    log_in("wrong", username="alice")
    log_in("wrong", username="ALICE")

    assert log_in("wrong", username=" Alice")[1].status_code == 429


def test_unknown_accounts_are_limited_like_real_ones(db, settings):
    settings.LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES = 2

    answers = [log_in("wrong", username="nobody")[1].status_code for _ in range(3)]

    assert answers == [200, 200, 429]


def test_login_attempts_per_address_are_limited_across_accounts(customer, settings, failed_logins):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_HOUR = 3
    answers = [log_in("wrong", username=f"user{n}")[1].status_code for n in range(4)]

    assert answers == [200, 200, 200, 429]
    assert len(failed_logins) == 3
    assert log_in(PASSWORD, address="198.51.100.99")[1].status_code == 302


def test_the_refusal_is_the_sites_429_page_with_a_way_back(customer, settings):
    settings.LOGIN_ATTEMPTS_PER_ADDRESS_HOUR = 1
    log_in("wrong")

    refused = log_in("wrong")[1]

    html = refused.content.decode()
    assert refused.status_code == 429
    assert '<header class="site-header">' in html
    assert "Slow down a little" in html
    assert 'href="/"' in html
    assert "no-store" in refused["Cache-Control"]


def test_the_address_behind_the_trusted_proxy_is_limited_not_the_proxy(customer, settings):
    settings.TRUSTED_PROXY_COUNT, settings.LOGIN_ATTEMPTS_PER_ADDRESS_HOUR = 1, 1
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    first = proxy.post("/accounts/login/", {"username": "a", "password": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    forged = proxy.post(
        "/accounts/login/", {"username": "a", "password": "x"}, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )
    other = proxy.post("/accounts/login/", {"username": "a", "password": "x"}, HTTP_X_FORWARDED_FOR="198.51.100.8")

    assert [first.status_code, forged.status_code, other.status_code] == [200, 429, 200]


def test_with_the_limits_switched_off_nothing_is_refused(customer, settings):
    settings.RATE_LIMITS_ENABLED = False

    assert {log_in("wrong")[1].status_code for _ in range(12)} == {200}


def test_login_limits_fail_open_when_redis_is_unreachable(customer, monkeypatch):
    dead = dead_redis()
    monkeypatch.setattr("django_redis.get_redis_connection", lambda alias="default": dead)

    answers = [log_in("wrong")[1].status_code for _ in range(11)]
    success = log_in(PASSWORD)[1]

    assert answers == [200] * 11
    assert success.status_code == 302


# --- Password reset limits and delivery ----------------------------------------------------


def ask_reset(email: str, *, address: str = "198.51.100.7"):
    return Client(REMOTE_ADDR=address).post("/accounts/password-reset/", {"email": email})


def test_reset_requests_per_address_are_limited_and_a_refused_one_sends_nothing(customer, settings):
    settings.PASSWORD_RESETS_PER_ADDRESS_HOUR = 2
    answers = [ask_reset("alice@example.com").status_code for _ in range(3)]

    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2


def test_reset_mails_per_email_are_limited_from_any_address(customer):
    answers = [ask_reset("Alice@example.com", address=f"198.51.100.{n}").status_code for n in range(4)]

    assert answers == [302, 302, 302, 429]
    assert len(mail.outbox) == 3


def test_an_unknown_email_is_limited_exactly_like_a_known_one(customer):
    known = [ask_reset("alice@example.com", address=f"198.51.100.{n}").status_code for n in range(4)]
    unknown = [ask_reset("nobody@example.com", address=f"203.0.113.{n}").status_code for n in range(4)]

    assert known == unknown == [302, 302, 302, 429]


def test_the_reset_page_queues_the_mail_and_sends_nothing_itself(customer, settings):
    """With no worker on the queue, the page still answers at once; the mail waits in the broker."""
    queue = f"test-accounts-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager, celery_app.conf.task_default_queue = False, queue
    try:
        response = ask_reset("alice@example.com")
    finally:
        celery_app.conf.task_default_queue = previous
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queued = [json.loads(message) for message in broker.lrange(queue, 0, -1)]
    broker.delete(queue)

    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []
    assert [message["headers"]["task"] for message in queued] == ["cloudshelf.accounts.tasks.password_reset_send"]


class MailServer(socketserver.ThreadingTCPServer):
    """A loopback SMTP server (the outside mail service): keeps what it is sent, or never answers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, hangs: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _SmtpSession)
        self.hangs = hangs
        self.messages: list[str] = []
        self.received = threading.Event()

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.shutdown()
        self.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        if self.server.hangs:
            self.server.received.wait(timeout=30)  # says nothing until the test ends
            return
        self.wfile.write(b"220 test ready\r\n")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith("DATA"):
                self.wfile.write(b"354 go on\r\n")
                body = b"".join(iter(self.rfile.readline, b".\r\n"))
                self.server.messages.append(body.decode())
                self.server.received.set()
            elif command.startswith("QUIT"):
                self.wfile.write(b"221 bye\r\n")
                return
            elif command.startswith("EHLO"):
                self.wfile.write(b"250 test\r\n")
                continue
            self.wfile.write(b"250 ok\r\n")


def test_a_hung_mail_server_gives_up_after_email_timeout(customer, settings, caplog):
    """Without EMAIL_TIMEOUT the task would wait forever on a server that never answers."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = 0.3
    with MailServer(hangs=True) as server:
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.server_address
        try:
            tasks.password_reset_send(email="alice@example.com", domain="testserver", use_https=False)
        finally:
            server.received.set()

    # Django's reset form logs a failed send rather than raising it.
    [failure] = [record for record in caplog.records if record.exc_info]
    assert failure.getMessage() == f"Failed to send password reset email to {customer.pk}"
    assert "timed out" in str(failure.exc_info[1])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_mails_the_reset_link(customer):
    with MailServer() as server:
        host, port = server.server_address
        environment = {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": host,
            "EMAIL_PORT": str(port),
            "EMAIL_TIMEOUT": "5",
        }
        with real_worker("accounts", environment):
            response = ask_reset("alice@example.com")
            assert server.received.wait(timeout=30)

    assert response["Location"] == "/accounts/password-reset/sent/"
    assert len(server.messages) == 1
    assert "To: alice@example.com" in server.messages[0]
    assert re.search(r"http://testserver/accounts/reset/\S+/", server.messages[0])
