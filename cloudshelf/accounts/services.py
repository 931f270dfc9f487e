"""Account writes that are not a customer's own form: the first staff user of a deployment."""

from __future__ import annotations

import enum

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction


class StaffUserError(Exception):
    """The staff user could not be made as asked; the message says why and what to do."""


class StaffUserOutcome(enum.Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    PASSWORD_RESET = "password reset"


def email_in_use(email: str) -> bool:
    """Whether an account has this e-mail address, whatever its case (the unique index is on lower(email))."""
    return get_user_model()._default_manager.filter(email__iexact=email).exists()


def staff_user_ensure(*, username: str, email: str, password: str, reset_password: bool = False) -> StaffUserOutcome:
    """Make ``username`` a superuser with ``password``, once: safe to run on every deploy.

    An existing staff user is left as it is, unless ``reset_password`` sets its password again
    (the way back in when the password is lost). An existing *customer* of that name is never
    promoted: a deploy must not hand the admin to whoever signed up as "admin" first.
    """
    user_model = get_user_model()
    _validate_username(user_model, username)
    email = _validated_email(user_model, email)
    with transaction.atomic():
        # Case-blind, as sign-up is: "Admin" the customer blocks "admin" the superuser.
        user = user_model._default_manager.select_for_update().filter(username__iexact=username).first()
        if user is not None and not (user.is_staff and user.is_superuser):
            raise StaffUserError(
                f"An account named {user.get_username()!r} exists and is not a staff superuser; it is left "
                "alone. Choose another --username."
            )
        if user is not None and not reset_password:
            return StaffUserOutcome.UNCHANGED
        if user is None:
            if email_in_use(email):
                raise StaffUserError(f"Another account already uses {email}; choose another --email.")
            user = user_model(username=username, email=email, is_staff=True, is_superuser=True)
        _validate_password(password, user)
        user.set_password(password)
        created = user.pk is None
        user.save()
    return StaffUserOutcome.CREATED if created else StaffUserOutcome.PASSWORD_RESET


def _validate_username(user_model: type[User], username: str) -> None:
    max_length = user_model._meta.get_field(user_model.USERNAME_FIELD).max_length  # type: ignore[union-attr]
    if not username:
        raise StaffUserError("--username is empty.")
    if max_length is not None and len(username) > max_length:
        raise StaffUserError(f"--username is {len(username)} characters long; at most {max_length}.")
    try:
        user_model.username_validator(username)
    except ValidationError as error:
        raise StaffUserError(f"--username {username!r}: {' '.join(error.messages)}") from error


def _validated_email(user_model: type[User], email: str) -> str:
    max_length = user_model._meta.get_field("email").max_length
    if max_length is not None and len(email) > max_length:
        raise StaffUserError(f"--email is {len(email)} characters long; at most {max_length}.")
    try:
        validate_email(email)
    except ValidationError as error:
        raise StaffUserError(f"--email {email[:100]!r} is not an e-mail address.") from error
    return email


def _validate_password(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as error:
        # The messages describe the rule broken, never the password itself.
        raise StaffUserError(f"The password from the secret is refused: {' '.join(error.messages)}") from error
