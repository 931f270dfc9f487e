"""Account mail, sent by the Celery worker rather than the web request."""

from __future__ import annotations

import logging

from celery import shared_task
from django.contrib.auth.forms import PasswordResetForm
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

RESET_SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
RESET_EMAIL_TEMPLATE = "registration/password_reset_email.txt"


@shared_task(name="cloudshelf.accounts.tasks.password_reset_send", acks_late=True)
def password_reset_send(*, email: str, domain: str, use_https: bool) -> None:
    """Mail a reset link to every active account on ``email`` (none: nothing is sent).

    Django's own form does the work (finding accounts, the token, the mail), so the link is
    exactly Django's. The mail server is bounded by ``EMAIL_TIMEOUT``; Django's form logs a
    failed send (``django.contrib.auth``) rather than raising it. Running it twice sends two
    links, each valid: harmless.
    """
    form = PasswordResetForm({"email": email})
    if not form.is_valid():
        logger.warning("password reset for an invalid address was queued; nothing sent")
        return
    form.save(
        domain_override=domain,
        use_https=use_https,
        subject_template_name=RESET_SUBJECT_TEMPLATE,
        email_template_name=RESET_EMAIL_TEMPLATE,
    )


def password_reset_queue(*, email: str, domain: str, use_https: bool) -> None:
    """Queue the reset mail for ``email``; the request goes on whether or not the broker took it.

    Nothing is written before, so there is no transaction to wait for. If the broker is
    down the customer still sees "check your e-mail" (the page must not differ by account)
    and the failure is logged for the operator: they can ask again in a minute.
    """
    try:
        password_reset_send.delay(email=email, domain=domain, use_https=use_https)
    except OperationalError:
        logger.exception("could not queue a password reset mail")
