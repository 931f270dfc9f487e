"""``manage.py create_staff_user``: the deployment's first staff user, its password from Secrets Manager.

create_staff_user --username admin --email ops@example.com
                  [--password-secret-arn ARN] [--reset-password]

``createsuperuser`` asks for the password at a terminal, which a Lambda (the manage function)
or a one-off Fargate task does not have; putting it in the environment would show it to anyone
allowed to read the configuration. This reads it from a secret (the App stack generates one and
sets ``STAFF_PASSWORD_SECRET_ARN``), never prints it, and is safe on every deploy: an existing
staff user is left alone unless ``--reset-password`` sets its password from the secret again.
"""

from __future__ import annotations

import re
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cloudshelf.accounts.services import StaffUserError, StaffUserOutcome, staff_user_ensure
from cloudshelf.env import ImproperlyConfiguredEnv

# arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 chars>, in any partition.
SECRET_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}")

MESSAGES = {
    StaffUserOutcome.CREATED: "Created the staff user {username!r} (superuser) with the password from the secret.",
    StaffUserOutcome.UNCHANGED: (
        "The staff user {username!r} already exists; nothing changed "
        "(--reset-password sets its password from the secret again)."
    ),
    StaffUserOutcome.PASSWORD_RESET: "Set the password of the staff user {username!r} from the secret.",
}


class Command(BaseCommand):
    help = "Create the first staff user (a superuser) with its password read from AWS Secrets Manager."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", required=True, help="the staff user's name (letters, digits, @.+-_)")
        parser.add_argument("--email", required=True, help="the staff user's e-mail address")
        parser.add_argument(
            "--password-secret-arn",
            default="",
            help="the secret holding the password (default: settings.STAFF_PASSWORD_SECRET_ARN)",
        )
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="if the staff user exists, set its password from the secret again",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username, email = options["username"].strip(), options["email"].strip()
        secret_arn = options["password_secret_arn"] or settings.STAFF_PASSWORD_SECRET_ARN
        named_by = "--password-secret-arn" if options["password_secret_arn"] else "STAFF_PASSWORD_SECRET_ARN"
        if not secret_arn:
            raise CommandError("No password secret: pass --password-secret-arn or set STAFF_PASSWORD_SECRET_ARN.")
        if not SECRET_ARN_PATTERN.fullmatch(secret_arn):
            raise CommandError(f"{secret_arn[:200]!r} is not the ARN of a Secrets Manager secret.")
        from cloudshelf.aws_secrets import secret_string

        try:
            password = secret_string(secret_arn=secret_arn, setting=named_by, fresh=True)
        except ImproperlyConfiguredEnv as error:
            raise CommandError(str(error)) from error
        try:
            outcome = staff_user_ensure(
                username=username, email=email, password=password, reset_password=options["reset_password"]
            )
        except StaffUserError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(MESSAGES[outcome].format(username=username))
