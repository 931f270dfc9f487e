"""``manage.py create_staff_user``: the first staff user of a deployment, its password from a secret (moto)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-Battery-Staple-71"
User = get_user_model()


def create_staff_user(*args: str) -> str:
    out = io.StringIO()
    call_command("create_staff_user", *args, stdout=out)
    return out.getvalue()


def staff_args(arn: str, username: str = "admin", email: str = "ops@example.com") -> list[str]:
    return ["--username", username, "--email", email, "--password-secret-arn", arn]


def test_the_staff_user_is_created_with_the_secrets_password_and_can_use_the_admin(secrets_manager):
    arn = secrets_manager(PASSWORD)

    out = create_staff_user(*staff_args(arn))

    assert out.strip() == "Created the staff user 'admin' (superuser) with the password from the secret."
    assert PASSWORD not in out
    user = User.objects.get(username="admin")
    assert (user.email, user.is_staff, user.is_superuser, user.check_password(PASSWORD)) == (
        "ops@example.com",
        True,
        True,
        True,
    )
    client = Client()
    assert client.login(username="admin", password=PASSWORD)
    assert client.get("/admin/").status_code == 200


def test_the_setting_names_the_secret_when_the_option_does_not(secrets_manager, settings):
    settings.STAFF_PASSWORD_SECRET_ARN = secrets_manager(PASSWORD)

    create_staff_user("--username", "admin", "--email", "ops@example.com")

    assert User.objects.get(username="admin").check_password(PASSWORD)


def test_running_it_again_changes_nothing_until_asked_to_reset_the_password(secrets_manager):
    first = secrets_manager(PASSWORD)
    create_staff_user(*staff_args(first))
    rotated = secrets_manager("Another-Long-Passphrase-2026")

    again = create_staff_user(*staff_args(rotated))
    assert "already exists; nothing changed" in again
    assert User.objects.get(username="admin").check_password(PASSWORD)

    reset = create_staff_user(*staff_args(rotated), "--reset-password")
    assert reset.strip() == "Set the password of the staff user 'admin' from the secret."
    assert User.objects.get(username="admin").check_password("Another-Long-Passphrase-2026")
    assert User.objects.filter(username="admin").count() == 1


def test_a_rotated_secret_is_read_again_not_remembered(secrets_manager):
    arn = secrets_manager(PASSWORD)
    create_staff_user(*staff_args(arn))
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString="Rotated-Long-Passphrase-2026")

    create_staff_user(*staff_args(arn), "--reset-password")

    assert User.objects.get(username="admin").check_password("Rotated-Long-Passphrase-2026")


def test_a_customer_with_that_name_is_never_promoted(secrets_manager):
    customer = UserFactory(username="admin", email="someone@example.com")
    arn = secrets_manager(PASSWORD)

    with pytest.raises(CommandError, match="exists and is not a staff superuser; it is left alone"):
        create_staff_user(*staff_args(arn), "--reset-password")

    customer.refresh_from_db()
    assert (customer.is_staff, customer.is_superuser, customer.check_password(PASSWORD)) == (False, False, False)


def test_an_e_mail_address_another_account_uses_is_refused(secrets_manager):
    UserFactory(username="alice", email="ops@example.com")

    with pytest.raises(CommandError, match=r"Another account already uses ops@example\.com"):
        create_staff_user(*staff_args(secrets_manager(PASSWORD)))

    assert not User.objects.filter(username="admin").exists()


def test_a_weak_password_in_the_secret_is_refused_without_being_shown(secrets_manager):
    arn = secrets_manager("password")

    with pytest.raises(CommandError, match="The password from the secret is refused") as raised:
        create_staff_user(*staff_args(arn))

    assert "'password'" not in str(raised.value)
    assert not User.objects.filter(username="admin").exists()


@pytest.mark.parametrize(
    ("username", "email", "message"),
    [
        ("", "ops@example.com", "--username is empty"),
        ("   ", "ops@example.com", "--username is empty"),
        ("a" * 151, "ops@example.com", "--username is 151 characters long; at most 150"),
        ("admin'; DROP TABLE auth_user; --", "ops@example.com", "Enter a valid username"),
        ("<script>alert(1)</script>", "ops@example.com", "Enter a valid username"),
        ("ad\x00min", "ops@example.com", "Enter a valid username"),
        ("admin", "", "is not an e-mail address"),
        ("admin", "not-an-address", "is not an e-mail address"),
        ("admin", "ops@example.com\nBcc: all@example.com", "is not an e-mail address"),
        ("admin", "a" * 250 + "@example.com", "at most 254"),
    ],
)
def test_bad_names_and_addresses_are_refused_and_nothing_is_made(secrets_manager, username, email, message):
    arn = secrets_manager(PASSWORD)

    with pytest.raises(CommandError, match=message):
        create_staff_user(*staff_args(arn, username=username, email=email))

    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("arn", "message"),
    [
        ("", "No password secret: pass --password-secret-arn or set STAFF_PASSWORD_SECRET_ARN"),
        ("admin-password", "is not the ARN of a Secrets Manager secret"),
        ("arn:aws:s3:::a-bucket", "is not the ARN of a Secrets Manager secret"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:x\n--reset", "is not the ARN"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + "x" * 5000, "is not the ARN"),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudshelf-missing-AbCdEf",
            "--password-secret-arn=.* could not be read",
        ),
    ],
)
def test_a_missing_malformed_or_unknown_secret_is_a_clear_error(settings, arn, message):
    settings.STAFF_PASSWORD_SECRET_ARN = ""

    with pytest.raises(CommandError, match=message):
        create_staff_user(*staff_args(arn))

    assert User.objects.count() == 0


def test_the_manage_function_runs_it_with_its_own_secret_and_returns_no_password(aws_lambda, secrets_manager, settings):
    settings.STAFF_PASSWORD_SECRET_ARN = secrets_manager(PASSWORD)  # the App stack sets it on the function

    result = aws_lambda.manage_handler(
        {"command": "create_staff_user", "args": ["--username", "admin", "--email", "staff@example.com"]}, None
    )

    assert result["output"].startswith("Created the staff user 'admin'")
    assert PASSWORD not in json.dumps(result)
    assert User.objects.get(username="admin").is_superuser


@pytest.mark.parametrize("option", ["--password-secret-arn", "--password-secret-arn=arn:aws:secretsmanager:x"])
def test_the_manage_function_refuses_another_secret_as_the_password(aws_lambda, secrets_manager, option):
    """Whoever may invoke it must not make the database's secret (readable by the function) a password."""
    arn = secrets_manager(PASSWORD)
    args = ["--username", "admin", "--email", "ops@example.com", option, *([arn] if "=" not in option else [])]

    with pytest.raises(aws_lambda.InvalidEvent, match="are not allowed: the function's own settings and secrets"):
        aws_lambda.manage_handler({"command": "create_staff_user", "args": args}, None)

    assert User.objects.count() == 0


def test_a_customer_named_alike_in_another_case_blocks_the_name(secrets_manager):
    UserFactory(username="Admin", email="someone@example.com")

    with pytest.raises(CommandError, match="An account named 'Admin' exists and is not a staff superuser"):
        create_staff_user(*staff_args(secrets_manager(PASSWORD)))

    assert list(User.objects.values_list("username", flat=True)) == ["Admin"]


def test_an_unreadable_secret_from_the_setting_is_named_as_the_setting(settings):
    settings.STAFF_PASSWORD_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudshelf-gone-AbCdEf"

    with pytest.raises(CommandError, match=r"^STAFF_PASSWORD_SECRET_ARN=.* could not be read"):
        create_staff_user("--username", "admin", "--email", "ops@example.com")
