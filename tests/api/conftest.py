"""Partner API fixtures: two partners (ours and another), each with a live key and a client."""

from __future__ import annotations

import pytest
import redis
from django.test import Client

from catalog.api import category_rows_forget
from cloudshelf.api.models import Partner
from cloudshelf.api.services import IssuedApiKey
from tests.api.factories import PartnerFactory, issue_key


@pytest.fixture(autouse=True)
def _fresh_category_rows():
    """Each test sees the categories it made: forget the API's per-process memo of the tree."""
    category_rows_forget()
    yield
    category_rows_forget()


def dead_redis() -> redis.Redis:
    """A client for a port where nothing listens, built like django-redis builds its clients
    (a pool from a URL), so it fails at once instead of retrying with backoff."""
    pool = redis.ConnectionPool.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    return redis.Redis(connection_pool=pool)


def key_client(raw_key: str) -> Client:
    """A test client that sends ``raw_key`` as a bearer token on every request."""
    return Client(headers={"Authorization": f"Bearer {raw_key}"})


@pytest.fixture
def partner(db) -> Partner:
    return PartnerFactory(name="Acme Books")


@pytest.fixture
def partner_key(partner) -> IssuedApiKey:
    return issue_key(partner)


@pytest.fixture
def api(partner_key) -> Client:
    """Acme's client. Its first request records the key's use (one UPDATE); tests that pin
    query counts make a warm-up request first."""
    return key_client(partner_key.raw_key)


@pytest.fixture
def other_partner(db) -> Partner:
    return PartnerFactory(name="Globex Reads")


@pytest.fixture
def other_api(other_partner) -> Client:
    return key_client(issue_key(other_partner).raw_key)
