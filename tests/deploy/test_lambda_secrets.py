"""DATABASE_URL and SECRET_KEY from Secrets Manager (cloudshelf.aws_secrets), against moto's."""

from __future__ import annotations

import json

import pytest

from cloudshelf.env import ImproperlyConfiguredEnv
from tests.test_settings import settings_for

PASSWORD = "p@ss/w:rd?#%"  # what a generated password may hold, all of it URL-special


def rds_secret(**fields: object) -> str:
    return json.dumps(
        {
            "username": "cloudshelf",
            "password": PASSWORD,
            "engine": "postgres",
            "host": "cloudshelf-db.abc.us-east-1.rds.amazonaws.com",
            "port": 5432,
            "dbname": "cloudshelf",
            **fields,
        }
    )


def test_the_database_url_is_built_from_the_rds_secret_with_the_proxy_as_host(monkeypatch, secrets_manager):
    arn = secrets_manager(rds_secret())

    values = settings_for(
        monkeypatch,
        DATABASE_URL=None,
        DATABASE_SECRET_ARN=arn,
        DATABASE_HOST="cloudshelf-proxy.proxy-abc.us-east-1.rds.amazonaws.com",
    )

    database = values["DATABASES"]["default"]
    assert (database["USER"], database["PASSWORD"], database["NAME"], database["PORT"]) == (
        "cloudshelf",
        PASSWORD,
        "cloudshelf",
        5432,
    )
    assert database["HOST"] == "cloudshelf-proxy.proxy-abc.us-east-1.rds.amazonaws.com"
    assert database["OPTIONS"]["sslmode"] == "require"  # the proxy requires TLS; never fall back to plain


def test_a_database_url_in_the_environment_wins_over_the_secret(monkeypatch):
    values = settings_for(monkeypatch, DATABASE_SECRET_ARN="arn:aws:secretsmanager:us-east-1:123456789012:secret:none")

    assert values["DATABASES"]["default"]["HOST"] == "127.0.0.1"  # /work/T's DATABASE_URL; the ARN was never read


def test_the_secret_key_comes_from_its_secret_when_not_in_the_environment(monkeypatch, secrets_manager):
    arn = secrets_manager("k" * 50)

    values = settings_for(monkeypatch, SECRET_KEY=None, SECRET_KEY_SECRET_ARN=arn)

    assert values["SECRET_KEY"] == "k" * 50


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (rds_secret(password=""), "the secret lacks password"),
        (rds_secret(username=None, dbname=None), "the secret lacks username, dbname"),
        (rds_secret(port="5432; DROP"), "port '5432; DROP' is not a number"),
        ("just-a-password", "not a JSON object"),
        ('["cloudshelf"]', "not a JSON object"),
    ],
)
def test_an_unusable_rds_secret_stops_the_start_with_a_clear_message(monkeypatch, secrets_manager, secret, message):
    arn = secrets_manager(secret)

    with pytest.raises(ImproperlyConfiguredEnv, match="DATABASE_SECRET_ARN") as refused:
        settings_for(monkeypatch, DATABASE_URL=None, DATABASE_SECRET_ARN=arn)

    assert message in str(refused.value)


def test_a_secret_that_cannot_be_read_names_the_setting(monkeypatch):
    missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cloudshelf-missing-AbCdEf"

    with pytest.raises(ImproperlyConfiguredEnv, match=r"SECRET_KEY_SECRET_ARN=.*could not be read"):
        settings_for(monkeypatch, SECRET_KEY=None, SECRET_KEY_SECRET_ARN=missing)


def test_the_replica_url_uses_the_primarys_secret_with_the_replica_host(monkeypatch, secrets_manager):
    arn = secrets_manager(rds_secret())

    values = settings_for(
        monkeypatch,
        DATABASE_URL=None,
        DATABASE_SECRET_ARN=arn,
        DATABASE_HOST="cloudshelf-proxy.example",
        DATABASE_REPLICA_HOST="cloudshelf-replica.example",
    )

    replica = values["DATABASES"]["replica"]
    assert (replica["HOST"], replica["USER"], replica["PASSWORD"]) == (
        "cloudshelf-replica.example",
        "cloudshelf",
        PASSWORD,
    )
    assert values["DATABASES"]["default"]["HOST"] == "cloudshelf-proxy.example"


def test_the_redis_auth_tokens_become_the_urls_passwords_and_the_brokers(monkeypatch, secrets_manager):
    cache_token, durable_token = secrets_manager("cache/token+1"), secrets_manager("durable@token")

    values = settings_for(
        monkeypatch,
        REDIS_URL="rediss://cache.example:6379/0",
        REDIS_DURABLE_URL="rediss://durable.example:6379/0",
        CELERY_BROKER_URL="rediss://durable.example:6379/2?ssl_cert_reqs=required",
        REDIS_AUTH_SECRET_ARN=cache_token,
        REDIS_DURABLE_AUTH_SECRET_ARN=durable_token,
    )

    assert values["CACHES"]["default"]["LOCATION"] == "rediss://:cache%2Ftoken%2B1@cache.example:6379/0"
    assert values["CACHES"]["durable"]["LOCATION"] == "rediss://:durable%40token@durable.example:6379/0"
    assert values["CELERY_BROKER_URL"] == "rediss://:durable%40token@durable.example:6379/2?ssl_cert_reqs=required"


def test_a_redis_url_with_its_own_password_keeps_it(monkeypatch, secrets_manager):
    token = secrets_manager("from-the-secret")

    values = settings_for(
        monkeypatch,
        REDIS_URL="redis://:explicit@127.0.0.1:56379/1",
        REDIS_DURABLE_URL=None,
        REDIS_AUTH_SECRET_ARN=token,
    )

    assert values["CACHES"]["default"]["LOCATION"] == "redis://:explicit@127.0.0.1:56379/1"
    assert values["CACHES"]["durable"]["LOCATION"] == "redis://:explicit@127.0.0.1:56379/1"
