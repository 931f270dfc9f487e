"""OpenSearch clients: a quick one for customers' searches, a patient one for indexing.

``OPENSEARCH_URL`` may carry basic-auth credentials (``https://user:pass@host``), which is
how an Amazon OpenSearch Service domain with fine-grained access control is reached. A domain
whose access policy admits IAM roles (the one infra/ deploys) is reached with SigV4-signed
requests instead: set ``OPENSEARCH_AWS_REGION``, and the credentials come from the standard
AWS chain (the Lambda's or the task's role), refreshed as they rotate.
Clients are cached per process (each holds a connection pool) and rebuilt when the
settings they come from change, as they do in tests.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth
from opensearchpy.exceptions import RequestError, TransportError


def is_configured() -> bool:
    """True when an OpenSearch endpoint is set (else every search uses the database)."""
    return bool(settings.OPENSEARCH_URL)


def _aws_signer(region: str) -> Urllib3AWSV4SignerAuth:
    """Signs each request for the ``es`` service; the signer reads fresh (frozen) credentials every time."""
    import boto3  # only deployments that sign pay for importing it

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ImproperlyConfigured(
            f"OPENSEARCH_AWS_REGION={region} asks for SigV4-signed OpenSearch requests, "
            "but no AWS credentials were found (role, environment or profile)"
        )
    return Urllib3AWSV4SignerAuth(credentials, region, "es")


@functools.lru_cache(maxsize=8)
def _client(url: str, timeout: float, retries: int, aws_region: str = "") -> OpenSearch:
    return OpenSearch(
        hosts=[url],
        http_auth=_aws_signer(aws_region) if aws_region else None,
        timeout=timeout,
        max_retries=retries,
        retry_on_timeout=retries > 0,
        # Enough pooled connections for every gunicorn thread of a worker.
        pool_maxsize=16,
    )


def search_client() -> OpenSearch:
    """For a customer waiting on a page: short timeout (``OPENSEARCH_TIMEOUT``), no retries.

    A slow answer is worse than the fallback's answer, so a timeout counts as a failure
    for the circuit breaker instead of being retried.
    """
    return _client(settings.OPENSEARCH_URL, settings.OPENSEARCH_TIMEOUT, 0, settings.OPENSEARCH_AWS_REGION)


def bulk_client() -> OpenSearch:
    """For background work (index builds, sync tasks, checks): a long timeout and two retries."""
    return _client(settings.OPENSEARCH_URL, settings.OPENSEARCH_BULK_TIMEOUT, 2, settings.OPENSEARCH_AWS_REGION)


def is_outage(error: Exception) -> bool:
    """Whether an error means "OpenSearch cannot serve now" (count it) rather than "our query is wrong".

    Connection errors, timeouts, 5xx, 429 (overloaded), 401/403 (credentials) and 404
    (no index yet) all mean the fallback should answer; a 400 is a bug in our query,
    which the breaker must not hide by opening.
    """
    return isinstance(error, TransportError) and not isinstance(error, RequestError)
