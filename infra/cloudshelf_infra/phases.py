"""The three growth phases of the architecture document, as the numbers the stacks are built from.

performance-and-scaling.md, "Scaling Strategy by Growth Phase": MVP (0-1,000 concurrent users,
~$200/month), Growth (1,000-10,000, ~$800) and Scale (10,000-50,000, ~$2,500). Every size a
stack uses lives here, so changing a phase is one edit and `make cost PHASE=...` shows what it
costs. The document's own figures are quoted where it gives one; the rest are our choices, and
the comment beside each says why.
"""

from __future__ import annotations

from dataclasses import dataclass

# Auto Scaling triggers, the same in every phase (document, "Application Auto Scaling").
SCALE_OUT_CPU_PERCENT = 70
SCALE_OUT_REQUESTS_PER_MINUTE = 1_000
SCALE_IN_CPU_PERCENT = 30
SCALE_IN_REQUESTS_PER_MINUTE = 200
SCALING_COOLDOWN_SECONDS = 5 * 60

# Lambda (document: "Memory: 512MB", "Timeout: 30 seconds", health checks on /health).
LAMBDA_MEMORY_MB = 512
LAMBDA_TIMEOUT_SECONDS = 30
HEALTH_CHECK_PATH = "/health"

# The document's response-time targets, which the alarms watch (p95, seconds).
PAGE_P95_SECONDS = 2.0
API_P95_SECONDS = 1.0
SEARCH_P95_SECONDS = 0.5
CART_P95_SECONDS = 0.2


@dataclass(frozen=True)
class Phase:
    name: str
    title: str
    concurrent_users: str
    monthly_budget_usd: int

    # Network: RDS and ElastiCache subnet groups need two zones even in the MVP.
    max_azs: int
    nat_gateways: int

    # RDS Postgres (the system of record) behind RDS Proxy, the pool Lambda needs: up to
    # `reserved_concurrency` instances each holding a connection would exhaust a small instance.
    db_instance_type: str  # without the "db." prefix, as ec2.InstanceType takes it
    db_multi_az: bool
    db_read_replicas: int
    db_storage_gb: int
    db_backup_days: int

    # ElastiCache Redis: the cache (LRU eviction, losing it costs only misses) and the durable
    # one (carts, sessions, the Celery broker: noeviction, a replica to fail over to).
    cache_node_type: str
    cache_shards: int  # more than one: cluster mode (REDIS_CLUSTER=1 in the app)
    cache_replicas_per_shard: int
    durable_node_type: str
    durable_replicas: int

    # Amazon OpenSearch: two data nodes in two zones, one replica per shard (the index settings).
    search_instance_type: str
    search_instance_count: int
    search_volume_gb: int

    # Lambda: `reserved_concurrency` caps each web function (document: 100 in normal operation,
    # bursting to 1,000); provisioned concurrency keeps page and cart warm (the document's answer
    # to cold starts) and scales between its min and max on the triggers above.
    reserved_concurrency: int
    page_provisioned_min: int
    page_provisioned_max: int
    cart_provisioned_min: int
    cart_provisioned_max: int

    # The container shape (ECS Fargate): web tasks scale between min and max on the same triggers.
    web_task_cpu: int  # CPU units (1024 = 1 vCPU)
    web_task_memory_mb: int
    web_tasks_min: int
    web_tasks_max: int
    worker_task_cpu: int
    worker_task_memory_mb: int
    worker_tasks: int

    # Edge: CloudFront price class (100 = North America and Europe, "All" = every edge location).
    cloudfront_price_class: str

    # DynamoDB point-in-time recovery (continuous backups): worth its cost once there is revenue.
    dynamodb_point_in_time_recovery: bool


MVP = Phase(
    name="mvp",
    title="MVP",
    concurrent_users="0-1,000",
    monthly_budget_usd=200,
    max_azs=2,
    nat_gateways=1,
    db_instance_type="t3.micro",  # document: "RDS single instance (db.t3.micro)"
    db_multi_az=False,
    db_read_replicas=0,
    db_storage_gb=20,
    db_backup_days=7,
    cache_node_type="cache.t4g.micro",
    cache_shards=1,
    cache_replicas_per_shard=0,
    durable_node_type="cache.t4g.micro",
    durable_replicas=1,
    search_instance_type="t3.small.search",  # document: t3.small.search x 2, 20 GB
    search_instance_count=2,
    search_volume_gb=20,
    reserved_concurrency=100,
    page_provisioned_min=1,
    page_provisioned_max=5,
    cart_provisioned_min=1,
    cart_provisioned_max=2,
    web_task_cpu=512,
    web_task_memory_mb=1024,
    web_tasks_min=1,
    web_tasks_max=4,
    worker_task_cpu=256,
    worker_task_memory_mb=512,
    worker_tasks=1,
    cloudfront_price_class="100",
    dynamodb_point_in_time_recovery=False,
)

GROWTH = Phase(
    name="growth",
    title="Growth",
    concurrent_users="1,000-10,000",
    monthly_budget_usd=800,
    max_azs=2,
    nat_gateways=1,
    db_instance_type="t3.medium",  # document: "db.t3.medium with read replicas", Multi-AZ
    db_multi_az=True,
    db_read_replicas=1,
    db_storage_gb=50,
    db_backup_days=14,
    cache_node_type="cache.t4g.medium",
    cache_shards=1,
    cache_replicas_per_shard=1,
    durable_node_type="cache.t4g.small",
    durable_replicas=1,
    search_instance_type="t3.medium.search",
    search_instance_count=2,
    search_volume_gb=30,
    reserved_concurrency=100,  # document: 100 in normal operation
    page_provisioned_min=5,
    page_provisioned_max=50,
    cart_provisioned_min=2,
    cart_provisioned_max=20,
    web_task_cpu=1024,
    web_task_memory_mb=2048,
    web_tasks_min=2,
    web_tasks_max=10,
    worker_task_cpu=512,
    worker_task_memory_mb=1024,
    worker_tasks=1,
    cloudfront_price_class="100",
    dynamodb_point_in_time_recovery=True,
)

SCALE = Phase(
    name="scale",
    title="Scale",
    concurrent_users="10,000-50,000",
    monthly_budget_usd=2_500,
    max_azs=3,
    nat_gateways=2,
    db_instance_type="r6g.large",
    db_multi_az=True,
    # One replica: pages and searches are served from the caches, CloudFront and OpenSearch first;
    # a second would cost ~$176/month for reads Postgres no longer sees (make cost PHASE=scale).
    db_read_replicas=1,
    db_storage_gb=100,
    db_backup_days=30,
    # Document: "r6g.large cluster with 2 nodes": two shards, no replicas. The cache is evictable
    # (losing a shard costs misses, never data), so replicas would buy little for ~$300/month.
    cache_node_type="cache.r6g.large",
    cache_shards=2,
    cache_replicas_per_shard=0,
    durable_node_type="cache.t4g.medium",
    durable_replicas=1,
    search_instance_type="m6g.large.search",
    search_instance_count=2,
    search_volume_gb=50,
    reserved_concurrency=1_000,  # document: burst concurrency 1,000 (needs an account limit raise)
    # A normal day's busiest hour needs ~6 warm page instances (infra/prices.yml's usage); 10 keeps
    # headroom, and autoscaling adds up to 200 for a sales event.
    page_provisioned_min=10,
    page_provisioned_max=200,
    cart_provisioned_min=5,
    cart_provisioned_max=50,
    web_task_cpu=1024,
    web_task_memory_mb=2048,
    web_tasks_min=3,
    web_tasks_max=30,
    worker_task_cpu=1024,
    worker_task_memory_mb=2048,
    worker_tasks=2,
    cloudfront_price_class="All",
    dynamodb_point_in_time_recovery=True,
)

PHASES: dict[str, Phase] = {phase.name: phase for phase in (MVP, GROWTH, SCALE)}


def phase_named(name: str) -> Phase:
    """The phase called ``name``, or an error that lists the valid names."""
    try:
        return PHASES[(name or "").strip().lower()]
    except KeyError:
        raise ValueError(f"unknown phase {name!r}: choose one of {', '.join(PHASES)}") from None
