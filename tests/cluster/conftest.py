"""The Redis Cluster suite: collected only when the settings point at a cluster.

``make pytest-cluster`` starts the local cluster (scripts/redis.sh cluster-start) and runs
these with ``REDIS_CLUSTER=1``, together with the cart, rate-limit, breaker and search
result cache suites. In the single-node run (``make pytest``) there is no cluster to test,
so this directory is not collected at all rather than skipped test by test.
"""

from __future__ import annotations

import os

import pytest
from django_redis import get_redis_connection
from redis.cluster import RedisCluster

from cloudshelf.env import env_bool

collect_ignore_glob = [] if env_bool("REDIS_CLUSTER", False) and os.environ.get("REDIS_URL") else ["test_*.py"]


@pytest.fixture
def cluster() -> RedisCluster:
    """The durable alias's cluster client (the cart's, sessions', limiter's)."""
    client = get_redis_connection("durable")
    assert isinstance(client, RedisCluster), "the cluster suite must run with REDIS_CLUSTER=1"
    return client
