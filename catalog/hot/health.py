"""The DynamoDB readiness probe for ``/health/ready`` (``cloudshelf.health.READINESS_CHECKS``).

Not a required check: while DynamoDB is away Postgres answers the reads it served, so the
node stays in service and the check reports "degraded" with the breaker's state.
"""

from __future__ import annotations

from django.conf import settings

from catalog.hot import dynamo
from catalog.hot.reads import dynamodb_breaker, is_configured
from cloudshelf.breaker import CLOSED

# A key no record has: reading it costs half a read unit and proves table and service answer.
PROBE_KEY = {"pk": {"S": "HEALTH"}, "sk": {"S": dynamo.SORT_KEY}}


def probe_hot_data() -> None:
    """Raise when hot reads are not being served by DynamoDB: breaker not closed, table unreachable.

    Without ``DYNAMODB_TABLE`` Postgres answers those reads by design: nothing to report.
    """
    if not is_configured():
        return
    state = dynamodb_breaker.state
    if state != CLOSED:
        raise RuntimeError(f"circuit breaker {state}: hot reads are served from Postgres")
    dynamo.read_client().get_item(TableName=settings.DYNAMODB_TABLE, Key=PROBE_KEY)
