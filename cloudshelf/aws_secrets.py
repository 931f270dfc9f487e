"""Credentials from AWS Secrets Manager, read once when settings load.

A Lambda function's environment cannot reference a secret (ECS task definitions can), and
copying the password into the environment would show it to anyone allowed to read the
function's configuration. So the App stack passes the secrets' ARNs, and settings read them
here at cold start: one ``GetSecretValue`` per secret (tens of milliseconds inside the VPC),
never per request. Settings import this module only when an ARN is set; the one other reader is
``manage.py create_staff_user`` (the first staff user's password).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from cloudshelf.env import ImproperlyConfiguredEnv


@cache
def _client() -> Any:
    import boto3  # here: ~0.1 s to import, paid only by a deployment that reads a secret

    # AWS_ENDPOINT_URL (moto in tests) and the region come from the environment, as for every client.
    return boto3.client("secretsmanager")


def _fetch(secret_arn: str) -> object:
    return _client().get_secret_value(SecretId=secret_arn).get("SecretString")


@cache
def _read(secret_arn: str) -> object:
    # Cached: the database secret serves the primary and the replica with one call.
    return _fetch(secret_arn)


def secret_string(*, secret_arn: str, setting: str, fresh: bool = False) -> str:
    """The secret's current ``SecretString``; a missing or unreadable secret stops the start, naming ``setting``.

    ``fresh`` asks Secrets Manager again instead of this process's earlier answer (a command
    run in a warm Lambda after the secret was rotated).
    """
    try:
        value = _fetch(secret_arn) if fresh else _read(secret_arn)
    except Exception as error:  # botocore's errors (no such secret, access denied, no network)
        raise ImproperlyConfiguredEnv(f"{setting}={secret_arn!r} could not be read: {error}") from error
    if not isinstance(value, str) or not value:
        raise ImproperlyConfiguredEnv(f"{setting}={secret_arn!r} has no SecretString")
    return value


def url_with_secret_password(url: str, *, secret_arn: str, setting: str) -> str:
    """``url`` with the secret's value as its password (ElastiCache AUTH tokens: ``rediss://:token@host``).

    A URL that already names a password keeps it: what the environment says explicitly wins.
    """
    parts = urlsplit(url)
    if parts.password or not parts.hostname:
        return url
    token = quote(secret_string(secret_arn=secret_arn, setting=setting), safe="")
    user = quote(parts.username, safe="") if parts.username else ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{token}@{host}"))


def database_url_from_secret(*, secret_arn: str, host: str = "", port: str = "", name: str = "") -> str:
    """A ``postgres://`` URL from an RDS secret (JSON: username, password, host, port, dbname).

    ``host``/``port``/``name`` replace the secret's own when given: the app connects through
    RDS Proxy, whose endpoint is not the instance's host the secret names. User and password
    are percent-encoded, since a generated password may hold ``@``, ``/`` or ``:``.
    """
    raw = secret_string(secret_arn=secret_arn, setting="DATABASE_SECRET_ARN")
    try:
        fields = json.loads(raw)
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise ImproperlyConfiguredEnv("DATABASE_SECRET_ARN: the secret is not a JSON object (an RDS secret is)")
    username, password = fields.get("username"), fields.get("password")
    host = host or str(fields.get("host") or "")
    port = port or str(fields.get("port") or "5432")
    name = name or str(fields.get("dbname") or "")
    missing = [
        label
        for label, value in (("username", username), ("password", password), ("host", host), ("dbname", name))
        if not isinstance(value, str) or not value
    ]
    if missing:
        raise ImproperlyConfiguredEnv(f"DATABASE_SECRET_ARN: the secret lacks {', '.join(missing)}")
    if not port.isdigit():
        raise ImproperlyConfiguredEnv(f"DATABASE_SECRET_ARN: port {port!r} is not a number")
    credentials = f"{quote(str(username), safe='')}:{quote(str(password), safe='')}"
    # TLS or nothing: RDS Proxy and the instances require it (require_tls, rds.force_ssl), and
    # libpq's default ("prefer") would quietly accept a plain connection from anything in the way.
    return f"postgres://{credentials}@{host}:{port}/{quote(name, safe='')}?sslmode=require"
