"""CloudShelf settings: one module, configured only by environment variables.

With nothing set, the shop runs on an *embedded default*: SQLite under ``var/``, an
in-process cache, Celery tasks run in-process, search on the database and files on this
machine. Each variable switches one part to its production shape: ``DATABASE_URL``
(Postgres), ``REDIS_URL`` (the cache; ``REDIS_DURABLE_URL`` gives carts, sessions and rate
limits a Redis of their own), ``CELERY_BROKER_URL`` (a Celery worker), ``OPENSEARCH_URL``
(OpenSearch) and ``AWS_STORAGE_BUCKET_NAME`` (static files and media on S3, behind
CloudFront with ``CLOUDFRONT_DOMAIN``). Every variable is listed in the README.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any
from wsgiref.headers import Headers

import dj_database_url

from cloudshelf.database import connection_timeout_options, reset_changed_timeouts
from cloudshelf.env import ImproperlyConfiguredEnv, env_bool, env_float, env_int, env_json_object, env_list, env_str
from cloudshelf.features.registry import FEATURE_NAMES
from cloudshelf.features.registry import environment_variable as feature_environment_variable
from cloudshelf.schedule import beat_schedule
from cloudshelf.security import content_security_policy

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

DATABASE_URL = env_str("DATABASE_URL")
# On AWS the App stack passes the RDS secret's ARN instead (cloudshelf.aws_secrets: read once
# at start-up, never in the environment), with DATABASE_HOST the RDS Proxy endpoint.
DATABASE_SECRET_ARN = env_str("DATABASE_SECRET_ARN")
if not DATABASE_URL and DATABASE_SECRET_ARN:
    from cloudshelf.aws_secrets import database_url_from_secret

    DATABASE_URL = database_url_from_secret(
        secret_arn=DATABASE_SECRET_ARN,
        host=env_str("DATABASE_HOST"),
        port=env_str("DATABASE_PORT"),
        name=env_str("DATABASE_NAME"),
    )
REDIS_URL = env_str("REDIS_URL")
REDIS_DURABLE_URL = env_str("REDIS_DURABLE_URL", REDIS_URL)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# ElastiCache AUTH tokens on AWS: secrets (cloudshelf.aws_secrets), put in as the URLs' password;
# the durable group's also serves the broker on it.
if REDIS_URL and (_redis_token_arn := env_str("REDIS_AUTH_SECRET_ARN")):
    from cloudshelf.aws_secrets import url_with_secret_password

    _durable_is_cache = REDIS_DURABLE_URL == REDIS_URL
    REDIS_URL = url_with_secret_password(REDIS_URL, secret_arn=_redis_token_arn, setting="REDIS_AUTH_SECRET_ARN")
    REDIS_DURABLE_URL = REDIS_URL if _durable_is_cache else REDIS_DURABLE_URL
if REDIS_DURABLE_URL and (_durable_token_arn := env_str("REDIS_DURABLE_AUTH_SECRET_ARN")):
    from cloudshelf.aws_secrets import url_with_secret_password

    REDIS_DURABLE_URL = url_with_secret_password(
        REDIS_DURABLE_URL, secret_arn=_durable_token_arn, setting="REDIS_DURABLE_AUTH_SECRET_ARN"
    )
    if CELERY_BROKER_URL:
        CELERY_BROKER_URL = url_with_secret_password(
            CELERY_BROKER_URL, secret_arn=_durable_token_arn, setting="REDIS_DURABLE_AUTH_SECRET_ARN"
        )
OPENSEARCH_URL = env_str("OPENSEARCH_URL")


def _secret_key() -> str:
    """The secret key comes from the environment; only the embedded default may invent one.

    A production-shaped deployment runs on several processes and machines that must
    share one key, so a missing ``SECRET_KEY`` there is an error, not a fresh random key.
    """
    key = env_str("SECRET_KEY")
    if key:
        return key
    if secret_arn := env_str("SECRET_KEY_SECRET_ARN"):  # on AWS: the key's secret (cloudshelf.aws_secrets)
        from cloudshelf.aws_secrets import secret_string

        return secret_string(secret_arn=secret_arn, setting="SECRET_KEY_SECRET_ARN")
    if DATABASE_URL and not DEBUG:
        raise ImproperlyConfiguredEnv("SECRET_KEY must be set when DATABASE_URL is set and DEBUG is off")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = "CloudShelf"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "catalog",
    "cart",
    "search",
    "analytics",
    "partners",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "cloudshelf.api",
    "cloudshelf.edge",
    "cloudshelf.accounts",
    "cloudshelf.features",
]

MIDDLEWARE = [
    # Outermost: times and counts nearly the whole request, static files included (analytics.metrics).
    "analytics.metrics.middleware.MetricsMiddleware",
    # Counts requests in flight and their queueing time: load shedding (cloudshelf.features).
    "cloudshelf.features.middleware.LoadSheddingMiddleware",
    # /health answers before the Host check: a load balancer probes tasks by IP (cloudshelf.health).
    "cloudshelf.health.LivenessMiddleware",
    # First below it, so it sees every response last: anything not declared shareable is private.
    "cloudshelf.edge.http.DefaultPrivateMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise and every view: static files and replayed cached pages get them too.
    "cloudshelf.security.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /api/ only: keys, per-partner throttling, rate-limit and caching headers, JSON errors.
    # Early, so a throttled request costs nothing below it.
    "cloudshelf.api.middleware.PartnerApiMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cloudshelf.urls"
WSGI_APPLICATION = "cloudshelf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cloudshelf.context_processors.site",
                "analytics.rum.context_processors.rum",
                # Last: while a page is rendered for the page cache, personal values are placeholders.
                "cloudshelf.edge.page_cache.shell_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# The longest one statement of a request or task may run (pages answer in milliseconds; a
# statement still running after 15 s is a runaway, and is cancelled so the page gets a 500).
DATABASE_STATEMENT_TIMEOUT_MS = env_int("DATABASE_STATEMENT_TIMEOUT_MS", 15_000, minimum=0)
# The longest a statement waits for a row or table lock (behind a migration, a stuck order):
# shorter than the statement timeout, so a queue behind one lock cannot take every connection.
DATABASE_LOCK_TIMEOUT_MS = env_int("DATABASE_LOCK_TIMEOUT_MS", 5_000, minimum=0)
# A transaction left open with nothing running (a crashed worker, a network call inside it)
# is ended after this, releasing its locks and its connection slot.
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS = env_int("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000, minimum=0)
# The three timeouts above go to the primary as connection `options` (libpq startup parameters).
# RDS Proxy refuses those ("RDS Proxy currently doesn't support command-line options"): behind
# it (the AWS App stack) this is 0, nothing is sent, and the RDS parameter group holds the same
# three timeouts. The replica is reached directly, not through the proxy, and keeps them.
DATABASE_SESSION_OPTIONS = env_bool("DATABASE_SESSION_OPTIONS", True)
# A read replica (docs/database.md): report, analytics and anonymous catalog reads go there
# (cloudshelf.db_router); everything else, and every write, to DATABASE_URL. Postgres only.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if not DATABASE_REPLICA_URL and DATABASE_SECRET_ARN and env_str("DATABASE_REPLICA_HOST"):
    # On AWS: the replica's endpoint, with the primary's secret (same user, password and database).
    from cloudshelf.aws_secrets import database_url_from_secret

    DATABASE_REPLICA_URL = database_url_from_secret(
        secret_arn=DATABASE_SECRET_ARN,
        host=env_str("DATABASE_REPLICA_HOST"),
        port=env_str("DATABASE_PORT"),
        name=env_str("DATABASE_NAME"),
    )
if DATABASE_REPLICA_URL and not DATABASE_URL:
    raise ImproperlyConfiguredEnv("DATABASE_REPLICA_URL is set without DATABASE_URL: a replica needs its primary")
# Replica reads go to the primary while the replica is further behind than this.
DATABASE_REPLICA_MAX_LAG_SECONDS = env_float("DATABASE_REPLICA_MAX_LAG_SECONDS", 5.0, minimum=0)
# After a visitor's own write, their reads stay on the primary this long (read-your-writes).
# At least the lag bound: past it, the replica holds every write older than the bound.
DATABASE_READ_YOUR_WRITES_SECONDS = env_int("DATABASE_READ_YOUR_WRITES_SECONDS", 10, minimum=0)
if DATABASE_READ_YOUR_WRITES_SECONDS < DATABASE_REPLICA_MAX_LAG_SECONDS:
    raise ImproperlyConfiguredEnv(
        "DATABASE_READ_YOUR_WRITES_SECONDS is below DATABASE_REPLICA_MAX_LAG_SECONDS: a visitor could read "
        "from a replica that does not have their write yet"
    )
# Each process measures the replica's lag at most this often (one tiny query).
DATABASE_REPLICA_LAG_CHECK_SECONDS = env_float("DATABASE_REPLICA_LAG_CHECK_SECONDS", 1.0, minimum=0)
# An unreachable replica costs one connect attempt of at most this (libpq's floor is 2 s), then
# is not tried again for DATABASE_REPLICA_DOWN_MEMO_SECONDS: reads go to the primary meanwhile.
DATABASE_REPLICA_CONNECT_TIMEOUT = env_int("DATABASE_REPLICA_CONNECT_TIMEOUT", 2, minimum=1)
DATABASE_REPLICA_DOWN_MEMO_SECONDS = env_float("DATABASE_REPLICA_DOWN_MEMO_SECONDS", 5.0, minimum=0)
# A page rendered for the page cache reads from the replica only once it has every commit made
# before the render began (cloudshelf.db_router's WAL fence); it is waited for this long, then
# the primary renders the page. A few milliseconds behind is normal for a streaming replica.
DATABASE_REPLICA_FENCE_WAIT_SECONDS = env_float("DATABASE_REPLICA_FENCE_WAIT_SECONDS", 0.05, minimum=0)
# Connection pooling (docs/database.md, "Connection pooling"): each process keeps a psycopg
# pool per alias, shared by its threads and tasks, opened ahead, checked before use, shrinking
# to DATABASE_POOL_MIN_SIZE when idle; DATABASE_POOL=0 goes back to a connection per thread
# kept DATABASE_CONN_MAX_AGE seconds. A request holds its connection from its first query to
# its end, so the pool is as large as gunicorn's threads (GUNICORN_THREADS): a request never
# queues behind another's connection, and a wait for one means Postgres is not accepting
# connections: DATABASE_POOL_TIMEOUT bounds it, short, so that while Postgres is down a request
# fails within it and kept pages are served stale.
# Across processes and hosts the pooler is RDS Proxy (or PgBouncer): this pool bounds one process.
DATABASE_POOL = env_bool("DATABASE_POOL", True)
DATABASE_POOL_MIN_SIZE = env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0)
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", env_int("GUNICORN_THREADS", 8, minimum=1), minimum=1)
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 1.0, minimum=0.05)
if DATABASE_POOL_MIN_SIZE > DATABASE_POOL_MAX_SIZE:
    raise ImproperlyConfiguredEnv("DATABASE_POOL_MIN_SIZE is above DATABASE_POOL_MAX_SIZE")
# The apps whose models GET/HEAD requests outside the admin read from the replica unless the
# visitor just wrote (the catalog a shopper browses), and those every GET/HEAD reads there (reports).
DATABASE_REPLICA_CATALOG_APPS = ["catalog", "search"]
DATABASE_REPLICA_REPORT_APPS = ["analytics"]


def _database(url: str, *, connect_timeout: int, session_options: bool = True) -> dict[str, Any]:
    """One alias (the primary, the replica) from its URL, with the options every alias shares.

    Connection handling (persistence, pooling) and session timeouts belong here, so the
    primary and its replica can never drift apart.
    """
    database: dict[str, Any] = dict(
        dj_database_url.parse(
            url,
            # Persistent connections: each gunicorn thread keeps its connection instead of
            # paying a TCP + auth round trip per request; health checks drop dead ones.
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0),
            conn_health_checks=True,
        )
    )
    options = database.setdefault("OPTIONS", {})
    options.setdefault("connect_timeout", connect_timeout)
    # Every session starts with these (cloudshelf.database; 0 = off). Maintenance commands
    # (migrate, seed_catalog, import_books, search_index, VACUUM) lift the statement and
    # idle ones for their own session. Without session_options (DATABASE_SESSION_OPTIONS=0) the
    # server's parameter group sets them instead.
    if database["ENGINE"] == "django.db.backends.postgresql":
        if session_options:
            options["options"] = connection_timeout_options(
                statement_ms=DATABASE_STATEMENT_TIMEOUT_MS,
                lock_ms=DATABASE_LOCK_TIMEOUT_MS,
                idle_in_transaction_ms=DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
            )
        if DATABASE_POOL:
            # Django returns the connection to the pool at the end of each request or task,
            # and (CONN_HEALTH_CHECKS) the pool checks it before handing it out again.
            database["CONN_MAX_AGE"] = 0
            options["pool"] = {
                "min_size": DATABASE_POOL_MIN_SIZE,
                "max_size": DATABASE_POOL_MAX_SIZE,
                "timeout": DATABASE_POOL_TIMEOUT,
                # Connections past min_size that sat idle this long are closed.
                "max_idle": 600.0,
                # One returned from inside a block that lifted its timeouts gets them back.
                "reset": reset_changed_timeouts,
            }
    return database


if DATABASE_URL:
    DATABASES = {
        "default": _database(
            DATABASE_URL,
            connect_timeout=env_int("DATABASE_CONNECT_TIMEOUT", 3, minimum=1),
            session_options=DATABASE_SESSION_OPTIONS,
        )
    }
    if DATABASE_REPLICA_URL:
        DATABASES["replica"] = _database(DATABASE_REPLICA_URL, connect_timeout=DATABASE_REPLICA_CONNECT_TIMEOUT)
        if DATABASES["replica"]["ENGINE"] != "django.db.backends.postgresql":
            raise ImproperlyConfiguredEnv("DATABASE_REPLICA_URL must be a postgres:// URL")
        # Tests create no database on the (read-only) standby: the alias uses the primary's
        # test database by name, which the standby receives by streaming (tests/ops/test_replica*).
        DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
        # Which reads go to the replica, and read-your-writes (cloudshelf.db_router, docs/database.md).
        DATABASE_ROUTERS = ["cloudshelf.db_router.ReplicaRouter"]
        MIDDLEWARE.insert(
            MIDDLEWARE.index("cloudshelf.api.middleware.PartnerApiMiddleware"),
            "cloudshelf.db_router.ReplicaRoutingMiddleware",
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "cloudshelf.sqlite3"),
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions ---------------------------------------------------------------

# Rendered page fragments (book cards, see catalog.cards; the search sidebar). Keys are
# digests of what a fragment shows, so nothing ever needs invalidating; entries expire
# after CARD_CACHE_SECONDS. Shared through Redis when there is one (every worker reuses
# every other worker's cards), else an in-process LRU.
CARD_CACHE_ALIAS = "fragments"
CARD_CACHE_SECONDS = env_int("CARD_CACHE_SECONDS", 15 * 60, minimum=1)

# After a Redis timeout or failed connect, each process fails calls to that server at once for
# this long (cloudshelf.redis_guard): a hung Redis costs one socket timeout, not one per call.
REDIS_DOWN_MEMO_SECONDS = env_float("REDIS_DOWN_MEMO_SECONDS", 5.0, minimum=0)

# REDIS_CLUSTER=1: REDIS_URL and REDIS_DURABLE_URL are seed URLs of Redis Clusters (any node,
# or ElastiCache's configuration endpoint; database 0 only), reached through
# cloudshelf.redis_cluster. Keys that a script or transaction uses together share a hash tag
# (docs/operations.md, "Redis Cluster"). The Celery broker stays on CELERY_BROKER_URL's single node.
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", False)


def _redis_cache_options(url: str) -> dict[str, Any]:
    """django-redis options of a cache alias on ``url``: each alias's connection class follows its
    own URL (TLS for ``rediss://``; see cloudshelf.redis_guard.guarded_connection_class)."""
    from cloudshelf.redis_guard import guarded_connection_class

    return {
        "CLIENT_CLASS": "cloudshelf.redis_cluster.ClusterClient"
        if REDIS_CLUSTER
        else "django_redis.client.DefaultClient",
        "CONNECTION_FACTORY": "cloudshelf.redis_cluster.ClusterConnectionFactory"
        if REDIS_CLUSTER
        else "django_redis.pool.ConnectionFactory",
        # Short timeouts: a sick Redis must cost a request milliseconds, not seconds.
        "SOCKET_CONNECT_TIMEOUT": env_float("REDIS_CONNECT_TIMEOUT", 0.5, minimum=0.01),
        "SOCKET_TIMEOUT": env_float("REDIS_SOCKET_TIMEOUT", 0.5, minimum=0.01),
        "CONNECTION_POOL_KWARGS": {
            "max_connections": env_int("REDIS_MAX_CONNECTIONS", 50, minimum=1),
            # Remembers a hung or refusing server for REDIS_DOWN_MEMO_SECONDS (above).
            "connection_class": guarded_connection_class(url),
        },
        # hiredis is installed; redis-py picks its parser automatically.
    }


if REDIS_URL:
    if REDIS_CLUSTER:
        from cloudshelf.redis_cluster import check_cluster_url

        check_cluster_url(REDIS_URL, setting="REDIS_URL")
        check_cluster_url(REDIS_DURABLE_URL, setting="REDIS_DURABLE_URL")

    CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "cs")
    CACHES = {
        "default": {
            # django-redis, with get_many safe to fill in during an outage (redis_guard.RedisCache).
            "BACKEND": "cloudshelf.redis_guard.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300, minimum=1),
            "OPTIONS": _redis_cache_options(REDIS_URL),
        },
    }
    CACHES["fragments"] = CACHES["default"] | {
        "KEY_PREFIX": CACHE_KEY_PREFIX + ":fragment",
        "TIMEOUT": CARD_CACHE_SECONDS,
    }
    # "durable": what must not be evicted or lost on a restart (carts, sessions, rate limits).
    # Its own Redis when REDIS_DURABLE_URL is set (see docs/operations.md), else REDIS_URL's.
    CACHES["durable"] = CACHES["default"] | {
        "LOCATION": REDIS_DURABLE_URL,
        "OPTIONS": _redis_cache_options(REDIS_DURABLE_URL),
    }
    # When Redis is down, cache reads behave as misses and the database answers instead.
    # Code that *needs* Redis (the cart) talks to the raw connection and sees the error.
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cloudshelf",
            "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300, minimum=1),
        },
        # One process, one memory: the same store as "default" (same LOCATION).
        "durable": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cloudshelf",
            "TIMEOUT": env_int("CACHE_DEFAULT_TIMEOUT", 300, minimum=1),
        },
        "fragments": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "cloudshelf-fragments",
            "TIMEOUT": CARD_CACHE_SECONDS,
            "OPTIONS": {"MAX_ENTRIES": 5000},  # about 2.5 kB each
        },
    }

# --- Whole pages (cloudshelf.edge.page_cache; docs/edge.md) ------------------------------
# Home, browse, category, author, book and search pages are rendered once (as a visitor
# without a session sees them) and kept in Redis (shared by every process) and in a small
# LRU in each process. Changes retire exactly the pages that show what changed.
# How long a kept page may be served without being rebuilt (0 turns the page cache off).
PAGE_CACHE_SECONDS = env_int("PAGE_CACHE_SECONDS", 600, minimum=0)
# How long past that a kept page is still served while it is rebuilt, or when rebuilding fails.
PAGE_CACHE_STALE_SECONDS = env_int("PAGE_CACHE_STALE_SECONDS", 3600, minimum=0)
# A process trusts its own copy this long before checking it against changes again:
# the bound on how late a change made by another process shows (plus commit time).
PAGE_CACHE_RECHECK_SECONDS = env_float("PAGE_CACHE_RECHECK_SECONDS", 1.0, minimum=0)
# Memory for each process's copies (a page: ~15 kB compressed, ~100 kB once served).
PAGE_CACHE_LOCAL_MAX_BYTES = env_int("PAGE_CACHE_LOCAL_MAX_BYTES", 64 * 1024 * 1024, minimum=0)
# Only one request rebuilds a stale page; the lock lapses after this long if it dies.
PAGE_CACHE_REBUILD_SECONDS = env_int("PAGE_CACHE_REBUILD_SECONDS", 10, minimum=1)
# At most this many paths of pages showing a changed book are purged at the edge.
PAGE_CACHE_MAX_PURGE_PATHS = env_int("PAGE_CACHE_MAX_PURGE_PATHS", 50, minimum=0)
# HTTP caching of shared pages (cloudshelf.edge.http): browsers revalidate (0), shared caches
# and CloudFront keep a page PAGE_CACHE_SHARED_MAX_AGE, serve it stale while refreshing and
# when the origin fails.
PAGE_CACHE_BROWSER_MAX_AGE = env_int("PAGE_CACHE_BROWSER_MAX_AGE", 0, minimum=0)
PAGE_CACHE_SHARED_MAX_AGE = env_int("PAGE_CACHE_SHARED_MAX_AGE", 300, minimum=0)
PAGE_CACHE_STALE_WHILE_REVALIDATE = env_int("PAGE_CACHE_STALE_WHILE_REVALIDATE", 60, minimum=0)
PAGE_CACHE_STALE_IF_ERROR = env_int("PAGE_CACHE_STALE_IF_ERROR", 86400, minimum=0)
if REDIS_URL:
    CACHES["pages"] = CACHES["default"] | {"KEY_PREFIX": CACHE_KEY_PREFIX + ":page", "TIMEOUT": PAGE_CACHE_SECONDS}
else:
    CACHES["pages"] = {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "cloudshelf-pages",
        "TIMEOUT": PAGE_CACHE_SECONDS or 1,
        "OPTIONS": {"MAX_ENTRIES": 2000},  # about 30 kB each
    }

# --- Feature flags and load shedding (cloudshelf.features; docs/resilience.md) --------------
# FEATURE_<NAME>=1|0 forces a non-essential feature on or off (recommendations, review_lists,
# facet_counts): it wins over the admin's flag and, when 1, over load shedding. Unset: the admin decides.
# Set but empty (FEATURE_REVIEW_LISTS= from a template) counts as unset, not as "off".
FEATURE_OVERRIDES = {
    _name: env_bool(_variable)
    for _name in FEATURE_NAMES
    if os.environ.get(_variable := feature_environment_variable(_name), "").strip()
}
# Each process reads the published flags and the shedding state at most this often.
FEATURE_CHECK_SECONDS = env_float("FEATURE_CHECK_SECONDS", 1.0, minimum=0)
# Shed non-essential features when a process is overloaded (LOAD_SHED_ENABLED=0: never).
LOAD_SHED_ENABLED = env_bool("LOAD_SHED_ENABLED", True)
# Overloaded: this many requests in flight in one process (gunicorn's threads: all busy; 0: no limit) ...
LOAD_SHED_MAX_IN_FLIGHT = env_int("LOAD_SHED_MAX_IN_FLIGHT", env_int("GUNICORN_THREADS", 8, minimum=1), minimum=0)
# ... or a request that waited longer than this between nginx and Django (0: no limit).
LOAD_SHED_MAX_QUEUE_MS = env_int("LOAD_SHED_MAX_QUEUE_MS", 250, minimum=0)
# Trust X-Request-Start: only where our nginx overwrites it (`make up` sets 1). Not implied by
# TRUSTED_PROXY_COUNT: CloudFront and a load balancer pass a client's own value through, and one
# forged stamp every 30 s would keep every feature off.
LOAD_SHED_TRUST_REQUEST_START = env_bool("LOAD_SHED_TRUST_REQUEST_START", False)
# Features come back this long after the last overload anywhere (hysteresis against flapping).
LOAD_SHED_HOLD_SECONDS = env_float("LOAD_SHED_HOLD_SECONDS", 30.0, minimum=1)
# "nan" or "inf" would never read the flags again, or never stop shedding: refused, as are typos.
for _feature_setting, _most in (("FEATURE_CHECK_SECONDS", 60), ("LOAD_SHED_HOLD_SECONDS", 3600)):
    if not (_value := globals()[_feature_setting]) <= _most:
        raise ImproperlyConfiguredEnv(f"{_feature_setting}={_value} is not at most {_most} seconds")
# A page rendered while shedding is kept (and may be kept by shared caches) this long at most.
LOAD_SHED_PAGE_SECONDS = env_int("LOAD_SHED_PAGE_SECONDS", 10, minimum=0)

# cached_db: reads come from the cache, the database keeps sessions alive when Redis is
# down (the cache-only backend retries 10,000 times to find a free key in that case).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# Sessions are read from the durable Redis: an evicted or restarted cache must not log anyone out.
SESSION_CACHE_ALIAS = "durable"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 24 * 30, minimum=60)

# --- Celery ---------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# The queue tasks are sent to when nothing routes them. A worker started on another queue
# (`celery worker --queues`) sets it too, so the retries it schedules come back to it.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Periodic jobs, sent by `celery -A cloudshelf beat` (run by `make up`; docs/operations.md), or
# by EventBridge rules in the Lambda shape: CELERY_BEAT_SCHEDULE is set below, once the
# DynamoDB and search settings it needs are read, from cloudshelf.schedule.beat_schedule.
# Search logs older than this are deleted by the daily prune (the reports look back 30 days at most).
SEARCH_LOG_RETENTION_DAYS = env_int("SEARCH_LOG_RETENTION_DAYS", 90, minimum=1)
# Real-user monitoring (analytics.rum, docs/observability.md): the share of page views whose
# timings the browser sends (0..1; 0 sends no timings, book pages still count their views), how
# long beacons are kept, and how many beacons one client address may send a minute.
RUM_SAMPLE_RATE = env_float("RUM_SAMPLE_RATE", 0.1, minimum=0)
if not 0 <= RUM_SAMPLE_RATE <= 1:  # NaN too
    raise ImproperlyConfiguredEnv(f"RUM_SAMPLE_RATE={RUM_SAMPLE_RATE} is a share of page views: 0..1")
RUM_RETENTION_DAYS = env_int("RUM_RETENTION_DAYS", 30, minimum=1)
RUM_BEACONS_PER_ADDRESS_MINUTE = env_int("RUM_BEACONS_PER_ADDRESS_MINUTE", 120, minimum=0)
# Analytics (docs/observability.md): the buffer's record of written batches, kept this long so a
# batch replayed after a crashed flush is not counted twice; and the currency reports sum revenue in
# (orders in another currency count as orders and units, never as revenue).
ANALYTICS_BATCH_RECORD_DAYS = env_int("ANALYTICS_BATCH_RECORD_DAYS", 7, minimum=1)
ANALYTICS_CURRENCY = env_str("ANALYTICS_CURRENCY", "USD")
if not (len(ANALYTICS_CURRENCY) == 3 and ANALYTICS_CURRENCY.isascii() and ANALYTICS_CURRENCY.isalpha()) or (
    not ANALYTICS_CURRENCY.isupper()
):
    raise ImproperlyConfiguredEnv(f"ANALYTICS_CURRENCY must be an ISO 4217 code such as USD: {ANALYTICS_CURRENCY!r}")
# Each worker refreshes its heartbeat key this often; the key lapses after the TTL, so a dead
# worker is noticed within it (a few missed beats, not one slow tick, make a worker "dead").
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
WORKER_HEARTBEAT_TTL_SECONDS = env_int("WORKER_HEARTBEAT_TTL_SECONDS", 20, minimum=1)

# --- Health (/health/ready, cloudshelf.health) --------------------------------------------
# Callers sending this in `X-Health-Token` (and staff users) see each check's details; the
# public sees only the status. Empty: details for staff only.
HEALTH_DETAILS_TOKEN = env_str("HEALTH_DETAILS_TOKEN")
# The broker check's answer is reused this long: a load balancer probing every second must
# not open a broker connection every second.
HEALTH_BROKER_CHECK_SECONDS = env_float("HEALTH_BROKER_CHECK_SECONDS", 5.0, minimum=0)

# --- DynamoDB hot book data (catalog.hot; docs/hot-data.md) --------------------------------
# The table holding each book's hot record (price, stock, rating, snippets), written by Celery
# after each commit and read by the partner API behind a breaker. Empty: off, Postgres
# answers everything (the embedded default and most tests). AWS_ENDPOINT_URL points boto3 at
# moto in tests; credentials come the usual boto3 way.
DYNAMODB_TABLE = env_str("DYNAMODB_TABLE")
DYNAMODB_REGION = env_str("DYNAMODB_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
# A read waits this long at most (connect and read, each; no botocore retries on the read
# path): DynamoDB answers in single-digit ms, so a slow one is better served by Postgres.
DYNAMODB_CONNECT_TIMEOUT = env_float("DYNAMODB_CONNECT_TIMEOUT", 0.2, minimum=0.01)
DYNAMODB_READ_TIMEOUT = env_float("DYNAMODB_READ_TIMEOUT", 0.2, minimum=0.01)
# The read breaker (cloudshelf.breaker): after this many failures within the window, reads go
# to Postgres without trying DynamoDB for the cool-down.
DYNAMODB_BREAKER_FAILURES = env_int("DYNAMODB_BREAKER_FAILURES", 3, minimum=1)
DYNAMODB_BREAKER_WINDOW = env_float("DYNAMODB_BREAKER_WINDOW", 30, minimum=1)
DYNAMODB_BREAKER_COOLDOWN = env_float("DYNAMODB_BREAKER_COOLDOWN", 10, minimum=0.1)
# Writes retry throttling and unprocessed items this many times with full-jitter backoff
# (base doubling up to the cap, in seconds), then the Celery task retries itself later.
DYNAMODB_WRITE_ATTEMPTS = env_int("DYNAMODB_WRITE_ATTEMPTS", 6, minimum=1)
DYNAMODB_BACKOFF_BASE = env_float("DYNAMODB_BACKOFF_BASE", 0.05, minimum=0)
DYNAMODB_BACKOFF_CAP = env_float("DYNAMODB_BACKOFF_CAP", 2.0, minimum=0)
# Books the scheduled drift check (beat, hourly) compares with Postgres and repairs.
DYNAMODB_DRIFT_SAMPLE = env_int("DYNAMODB_DRIFT_SAMPLE", 500, minimum=1)

# --- Auth -----------------------------------------------------------------------------
# The first staff user's password on AWS: a generated secret the App stack makes, read by
# `manage.py create_staff_user` (scripts/deploy.sh runs it when STAFF_EMAIL is given).
STAFF_PASSWORD_SECRET_ARN = env_str("STAFF_PASSWORD_SECRET_ARN")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "catalog:home"

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "CloudShelf <no-reply@cloudshelf.example>")

# --- Internationalisation --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------------
# Static files are collected under hashed names (css/site.3f2a9c01b7e4.css) and uploaded
# media under names unique per upload (cloudshelf.edge.storages), so both may be kept by
# browsers and CDNs for a year. Where they live: S3 behind CloudFront when
# AWS_STORAGE_BUCKET_NAME is set (below), else this machine (WhiteNoise serves static,
# cloudshelf.edge.media serves media). See docs/static-and-media.md.
# STATIC_ROOT apart from DATA_DIR: the container image collects static files at build time into
# a read-only folder of its own, while DATA_DIR points at writable scratch space (Dockerfile).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
# The one Cache-Control of every file whose name changes when its bytes do, wherever it is served.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Names that may change bytes (css/site.css, the manifest, media outside covers/) are kept this long.
STATIC_UNHASHED_MAX_AGE = env_int("STATIC_UNHASHED_MAX_AGE", 300, minimum=0)

# --- AWS: S3 and CloudFront
# One bucket by default: static files under static/, media under media/, so one CloudFront
# distribution with the bucket as origin serves https://CLOUDFRONT_DOMAIN/static/… and
# /media/… by the same paths. AWS_MEDIA_BUCKET_NAME puts media in a bucket of its own (same
# media/ prefix). Credentials come the usual boto3 way (instance role, AWS_PROFILE, or
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); AWS_ENDPOINT_URL points every client elsewhere
# (moto in the tests, see scripts/moto.sh).
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_MEDIA_BUCKET_NAME = env_str("AWS_MEDIA_BUCKET_NAME", AWS_STORAGE_BUCKET_NAME)
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", env_str("AWS_DEFAULT_REGION", "us-east-1"))
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL").rstrip("/") or None
if AWS_ENDPOINT_URL and not AWS_ENDPOINT_URL.startswith(("http://", "https://")):
    raise ImproperlyConfiguredEnv(f"AWS_ENDPOINT_URL={AWS_ENDPOINT_URL!r} is not an http(s) URL")
# The distribution's domain (d111111abcdef8.cloudfront.net or cdn.example.com): pages link
# static files and media through it. Without it they link the bucket directly.
CLOUDFRONT_DOMAIN = env_str("CLOUDFRONT_DOMAIN").strip().rstrip("/")
if "/" in CLOUDFRONT_DOMAIN:
    raise ImproperlyConfiguredEnv(f"CLOUDFRONT_DOMAIN={CLOUDFRONT_DOMAIN!r} is a host name, without scheme or path")
# Set it to have changed pages invalidated at CloudFront (cloudshelf.edge.cdn).
CLOUDFRONT_DISTRIBUTION_ID = env_str("CLOUDFRONT_DISTRIBUTION_ID")
# Paths per create_invalidation call (CloudFront accepts up to 3,000).
CLOUDFRONT_INVALIDATION_BATCH = env_int("CLOUDFRONT_INVALIDATION_BATCH", 100, minimum=1)
if CLOUDFRONT_INVALIDATION_BATCH > 3000:
    raise ImproperlyConfiguredEnv("CLOUDFRONT_INVALIDATION_BATCH is above CloudFront's 3,000 paths per invalidation")
# At most one create_invalidation call per this many seconds, across every worker.
CLOUDFRONT_INVALIDATION_INTERVAL = env_float("CLOUDFRONT_INVALIDATION_INTERVAL", 10.0, minimum=0)
# More pending paths than this are collapsed into wildcards by prefix (/books/* is one path).
CLOUDFRONT_MAX_PATHS_PER_RUN = env_int("CLOUDFRONT_MAX_PATHS_PER_RUN", 500, minimum=1)
# The cloudfront circuit breaker (cloudshelf.breaker): FAILURES calls without an answer (or
# 5xx, throttling) within WINDOW seconds open it; invalidations then wait COOLDOWN seconds.
CLOUDFRONT_BREAKER_FAILURES = env_int("CLOUDFRONT_BREAKER_FAILURES", 3, minimum=1)
CLOUDFRONT_BREAKER_WINDOW = env_float("CLOUDFRONT_BREAKER_WINDOW", 120, minimum=1)
CLOUDFRONT_BREAKER_COOLDOWN = env_float("CLOUDFRONT_BREAKER_COOLDOWN", 60, minimum=0.1)
# The local shared HTTP cache (nginx in `make up`), sent `PURGE <path>` for each changed page.
HTTP_CACHE_PURGE_URL = env_str("HTTP_CACHE_PURGE_URL").rstrip("/")
# Changed paths are gathered this long and sent together (one task per burst).
EDGE_INVALIDATION_DEBOUNCE_SECONDS = env_float("EDGE_INVALIDATION_DEBOUNCE_SECONDS", 1.0, minimum=0)


def _bucket_url(bucket: str) -> str:
    if CLOUDFRONT_DOMAIN:
        return f"https://{CLOUDFRONT_DOMAIN}"
    if AWS_ENDPOINT_URL:
        return f"{AWS_ENDPOINT_URL}/{bucket}"
    return f"https://{bucket}.s3.{AWS_S3_REGION_NAME}.amazonaws.com"


if AWS_STORAGE_BUCKET_NAME:
    STATIC_URL = f"{_bucket_url(AWS_STORAGE_BUCKET_NAME)}/static/"
    MEDIA_URL = f"{_bucket_url(AWS_MEDIA_BUCKET_NAME)}/media/"
    STORAGES = {
        "default": {"BACKEND": "cloudshelf.edge.storages.S3MediaStorage"},
        "staticfiles": {"BACKEND": "cloudshelf.edge.storages.S3ManifestStaticStorage"},
    }
else:
    STATIC_URL = env_str("STATIC_URL", "/static/")
    MEDIA_URL = env_str("MEDIA_URL", "/media/")
    STORAGES = {
        "default": {"BACKEND": "cloudshelf.edge.storages.LocalMediaStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

# WhiteNoise says `max-age=315360000, public, immutable` for hashed names and
# `max-age=WHITENOISE_MAX_AGE, public` for the others: say exactly what S3 says for both.
WHITENOISE_MAX_AGE = STATIC_UNHASHED_MAX_AGE


def _static_cache_headers(headers: Headers, path: str, url: str) -> None:
    value = headers.get("Cache-Control")
    if value and "immutable" in value:
        headers["Cache-Control"] = IMMUTABLE_CACHE_CONTROL
    elif value:
        headers["Cache-Control"] = ", ".join(["public", *(part for part in value.split(", ") if part != "public")])


WHITENOISE_ADD_HEADERS_FUNCTION = _static_cache_headers

# --- Security -------------------------------------------------------------------------
# HTTPS=1 says "this site is served over TLS" (directly or behind a load balancer that
# sets X-Forwarded-Proto). It turns on secure cookies, HSTS and the HTTPS redirect.
HTTPS = env_bool("HTTPS", False)
# A production-shaped deployment (Postgres, DEBUG off) over plain HTTP sends session and CSRF
# cookies in clear text: it must say so explicitly (the local stack and the tests do).
ALLOW_INSECURE_HTTP = env_bool("ALLOW_INSECURE_HTTP", False)
if DATABASE_URL and not DEBUG and not (HTTPS or ALLOW_INSECURE_HTTP):
    raise ImproperlyConfiguredEnv(
        "DATABASE_URL is set and DEBUG is off, so this is a production-shaped deployment: set HTTPS=1 "
        "when the site is served over TLS (secure cookies, HSTS, redirect to https), or set "
        "ALLOW_INSECURE_HTTP=1 to run it over plain HTTP on purpose (a local stack or tests; session "
        "and CSRF cookies then travel unencrypted)"
    )
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^health"]  # the load balancer probes over plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if HTTPS else 0, minimum=0)
# Off unless asked for: both reach beyond this site (every subdomain; browsers' built-in
# lists, which take months to leave), so they are a decision for whoever owns the domain.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# `check --deploy` warns when those two are off (W005, W021); off is the deliberate default above.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
# The header the proxy in front sets to the scheme the visitor used. nginx and a load balancer
# that terminates TLS set X-Forwarded-Proto; behind CloudFront -> ALB over plain HTTP (infra/, no
# certificate on the ALB) that header says "http" for every visitor and the HTTPS redirect would
# loop, so the stacks name CloudFront-Forwarded-Proto, which CloudFront sets itself.
PROXY_SSL_HEADER = env_str("PROXY_SSL_HEADER", "X-Forwarded-Proto").strip()
if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", PROXY_SSL_HEADER):
    raise ImproperlyConfiguredEnv(
        f"PROXY_SSL_HEADER must be a header name such as X-Forwarded-Proto: {PROXY_SSL_HEADER!r}"
    )
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# What pages may load and run: our origin and the static/media host, nothing inline, no
# framing (cloudshelf.security, which also lists the narrow additions of the 500 page, the
# admin and the API docs).
CONTENT_SECURITY_POLICY = content_security_policy(static_url=STATIC_URL, media_url=MEDIA_URL)
# Browser features no page of ours uses, denied to every page and anything it embeds.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "ambient-light-sensor", "autoplay", "bluetooth", "browsing-topics", "camera",
        "display-capture", "encrypted-media", "geolocation", "gyroscope", "hid", "idle-detection",
        "magnetometer", "microphone", "midi", "payment", "publickey-credentials-get", "screen-wake-lock",
        "serial", "usb", "xr-spatial-tracking",
    )
}  # fmt: skip
# The SMTP server (EMAIL_BACKEND smtp) and how long one mail may wait on it: mail is sent by
# the Celery worker, and a hung server must not hold a worker for Django's default (forever).
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)

# --- Abuse limits (cloudshelf.ratelimit, cloudshelf.client) ----------------------------
# Proxies of ours in front of Django (load balancer, CDN): the client address is the entry
# this many places from the right of X-Forwarded-For. 0: REMOTE_ADDR, the header is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# The switch for every limit below (the partner API's limits are its plans). Each count
# below also switches its own limit off at 0.
RATE_LIMITS_ENABLED = env_bool("RATE_LIMITS_ENABLED", True)
# Failed logins per account in any 15 minutes and any hour (OWASP ASVS 2.2.1), exact windows.
LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES = env_int("LOGIN_FAILURES_PER_ACCOUNT_15_MINUTES", 10, minimum=0)
LOGIN_FAILURES_PER_ACCOUNT_HOUR = env_int("LOGIN_FAILURES_PER_ACCOUNT_HOUR", 100, minimum=0)
# Login attempts per client address per hour: one address guessing across many accounts.
LOGIN_ATTEMPTS_PER_ADDRESS_HOUR = env_int("LOGIN_ATTEMPTS_PER_ADDRESS_HOUR", 100, minimum=0)
# Password-reset requests per client address and per target e-mail per hour: each may send a mail.
PASSWORD_RESETS_PER_ADDRESS_HOUR = env_int("PASSWORD_RESETS_PER_ADDRESS_HOUR", 10, minimum=0)
PASSWORD_RESETS_PER_EMAIL_HOUR = env_int("PASSWORD_RESETS_PER_EMAIL_HOUR", 3, minimum=0)
# Sign-ups per client address per hour: a family shares one address, a bot makes thousands.
SIGNUPS_PER_ADDRESS_HOUR = env_int("SIGNUPS_PER_ADDRESS_HOUR", 10, minimum=0)
# Orders a customer may place per hour (each charges a card: card testing is the abuse).
ORDERS_PER_CUSTOMER_HOUR = env_int("ORDERS_PER_CUSTOMER_HOUR", 20, minimum=0)
# Anonymous carts (new sessions) created per client address per hour: each costs durable Redis
# memory. 300, not less: a mobile carrier's NAT puts many shoppers behind one IPv4 address.
CARTS_PER_ADDRESS_HOUR = env_int("CARTS_PER_ADDRESS_HOUR", 300, minimum=0)
# Searches and autocomplete calls per client address per minute: far above any shopper (one
# autocomplete per keystroke), low enough to stop a crawler paging through every query.
SEARCHES_PER_ADDRESS_MINUTE = env_int("SEARCHES_PER_ADDRESS_MINUTE", 120, minimum=0)
AUTOCOMPLETE_PER_ADDRESS_MINUTE = env_int("AUTOCOMPLETE_PER_ADDRESS_MINUTE", 600, minimum=0)

# --- Catalog --------------------------------------------------------------------------
CATALOG_PAGE_SIZE = env_int("CATALOG_PAGE_SIZE", 24, minimum=1)
CATALOG_REVIEWS_PAGE_SIZE = env_int("CATALOG_REVIEWS_PAGE_SIZE", 10, minimum=1)
CATALOG_HOME_CATEGORY_ROWS = env_int("CATALOG_HOME_CATEGORY_ROWS", 4, minimum=0)
# Browse pages past this one answer 404: nobody reads page 5,000, but crawlers try.
CATALOG_MAX_PAGE = env_int("CATALOG_MAX_PAGE", 2000, minimum=1)
CATALOG_LOW_STOCK_THRESHOLD = env_int("CATALOG_LOW_STOCK_THRESHOLD", 5, minimum=0)

# --- Covers: imported cover_url images fetched into media storage (docs/covers.md) ----
# Queue a fetch when an import gives books a cover_url. Off by default where Celery runs
# in-process (the embedded default), where it would fetch inside the import: run
# `manage.py fetch_covers` there instead.
COVER_FETCH_AUTOMATIC = env_bool("COVER_FETCH_AUTOMATIC", not CELERY_TASK_ALWAYS_EAGER)
COVER_FETCH_CONNECT_TIMEOUT = env_float("COVER_FETCH_CONNECT_TIMEOUT", 3.0, minimum=0.1)
COVER_FETCH_READ_TIMEOUT = env_float("COVER_FETCH_READ_TIMEOUT", 5.0, minimum=0.1)
# The whole download, redirects included; a host that dribbles bytes is cut off here.
COVER_FETCH_TOTAL_TIMEOUT = env_float("COVER_FETCH_TOTAL_TIMEOUT", 10.0, minimum=0.1)
COVER_FETCH_MAX_BYTES = env_int("COVER_FETCH_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
# Width x height of the decoded image: a small file can declare a huge canvas (a decompression bomb).
COVER_FETCH_MAX_PIXELS = env_int("COVER_FETCH_MAX_PIXELS", 30_000_000, minimum=10_000)
# Hosts answer a missing cover with a tiny placeholder (Open Library: a 1x1 GIF); not a cover.
COVER_FETCH_MIN_SIDE = env_int("COVER_FETCH_MIN_SIDE", 64, minimum=1)
COVER_FETCH_MAX_REDIRECTS = env_int("COVER_FETCH_MAX_REDIRECTS", 3, minimum=0)
# Covers come from hosts named in imported files: refuse loopback, private and link-local
# addresses (cloud metadata endpoints) unless this is on (tests use a server on 127.0.0.1).
COVER_FETCH_ALLOW_PRIVATE_HOSTS = env_bool("COVER_FETCH_ALLOW_PRIVATE_HOSTS", False)
# After a failure that may pass (timeout, 5xx, 429) the next try waits BASE * 2^(failures-1)
# seconds, at most MAX; after MAX_ATTEMPTS failures (or one that will not pass) it gives up.
COVER_FETCH_MAX_ATTEMPTS = env_int("COVER_FETCH_MAX_ATTEMPTS", 5, minimum=1)
COVER_FETCH_RETRY_BASE_SECONDS = env_int("COVER_FETCH_RETRY_BASE_SECONDS", 60, minimum=1)
COVER_FETCH_RETRY_MAX_SECONDS = env_int("COVER_FETCH_RETRY_MAX_SECONDS", 3600, minimum=1)
# Per worker process: a burst of 9,000 imported covers must not hammer one outside host.
COVER_FETCH_TASK_RATE_LIMIT = env_str("COVER_FETCH_TASK_RATE_LIMIT", "5/s")
# Parallel downloads of `manage.py fetch_covers` (its --workers default).
COVER_FETCH_COMMAND_WORKERS = env_int("COVER_FETCH_COMMAND_WORKERS", 4, minimum=1)
COVER_WEBP_QUALITY = env_int("COVER_WEBP_QUALITY", 80, minimum=1)
COVER_JPEG_QUALITY = env_int("COVER_JPEG_QUALITY", 85, minimum=1)

# --- Cart -----------------------------------------------------------------------------
# Carts live in Redis (the cache's Redis, raw connection) or, on the embedded default, in
# Django's cache. Limits keep one cart from growing without bound; see docs/cart.md.
CART_MAX_LINES = env_int("CART_MAX_LINES", 50, minimum=1)
CART_MAX_QUANTITY_PER_LINE = env_int("CART_MAX_QUANTITY_PER_LINE", 20, minimum=1)
# Idle time before a cart expires; every cart operation and every view of the cart page
# starts the clock again.
CART_CUSTOMER_TTL_DAYS = env_int("CART_CUSTOMER_TTL_DAYS", 30, minimum=1)
CART_ANONYMOUS_TTL_DAYS = env_int("CART_ANONYMOUS_TTL_DAYS", 7, minimum=1)
# Dotted path of the payment provider (a cart.payments.PaymentProvider).
CART_PAYMENT_PROVIDER = env_str("CART_PAYMENT_PROVIDER", "cart.payments.TestCardProvider")
# cart.payments.HttpPaymentProvider: the processor's API base URL and secret key.
CART_PAYMENT_API_URL = env_str("CART_PAYMENT_API_URL")
CART_PAYMENT_API_KEY = env_str("CART_PAYMENT_API_KEY")
# Seconds to open a connection to the provider: a dead host is given up on quickly.
CART_PAYMENT_CONNECT_TIMEOUT = env_float("CART_PAYMENT_CONNECT_TIMEOUT", 3.0, minimum=0.1)
# Seconds to wait for the provider's answer; connect + this stays well under gunicorn's 30 s.
CART_PAYMENT_TIMEOUT = env_float("CART_PAYMENT_TIMEOUT", 15.0, minimum=0.1)
# An order whose charge had no answer is looked up this many seconds after the last try,
# once the provider has surely finished with it (cart.tasks.orders_reconcile_pending).
CART_PAYMENT_RECONCILE_AFTER_SECONDS = env_int("CART_PAYMENT_RECONCILE_AFTER_SECONDS", 120, minimum=0)
# Unanswered lookups of one pending order before it is flagged for staff (30: half an hour of
# beat's one-minute runs, longer than a typical provider incident).
CART_PAYMENT_RECONCILE_MAX_CHECKS = env_int("CART_PAYMENT_RECONCILE_MAX_CHECKS", 30, minimum=1)
# The payment circuit breaker (cloudshelf.breaker): FAILURES timeouts, refused connections or
# 5xx within WINDOW seconds open it; checkout then says payments are unavailable (no order is
# made) and reconciliation waits, for COOLDOWN seconds. A decline is an answer, not a failure.
CART_PAYMENT_BREAKER_FAILURES = env_int("CART_PAYMENT_BREAKER_FAILURES", 3, minimum=1)
CART_PAYMENT_BREAKER_WINDOW = env_float("CART_PAYMENT_BREAKER_WINDOW", 60, minimum=1)
CART_PAYMENT_BREAKER_COOLDOWN = env_float("CART_PAYMENT_BREAKER_COOLDOWN", 30, minimum=0.1)
# A breaker's window or cool-down past a day (or "nan", "inf") is a typo, not a policy.
for _breaker_setting in (
    "CLOUDFRONT_BREAKER_WINDOW",
    "CLOUDFRONT_BREAKER_COOLDOWN",
    "CART_PAYMENT_BREAKER_WINDOW",
    "CART_PAYMENT_BREAKER_COOLDOWN",
):
    if not globals()[_breaker_setting] <= 86_400:
        raise ImproperlyConfiguredEnv(f"{_breaker_setting}={globals()[_breaker_setting]} is not at most 86400 seconds")
# A "placed" order this old never started its payment (the process died): checked, then cancelled.
CART_ORDER_ABANDONED_AFTER_MINUTES = env_int("CART_ORDER_ABANDONED_AFTER_MINUTES", 30, minimum=1)
CART_ORDERS_PAGE_SIZE = env_int("CART_ORDERS_PAGE_SIZE", 20, minimum=1)

# --- Search ---------------------------------------------------------------------------
# OpenSearch (OPENSEARCH_URL, above) answers searches; without it, or while the circuit
# breaker is open, the database does (Postgres full-text + trigrams; SQLite: a plain
# query). See docs/search.md.
# Every index, alias and Redis key of the search app starts with this, so the tests
# (a per-run prefix) and two stacks sharing one cluster never touch each other's index.
SEARCH_INDEX_PREFIX = env_str("SEARCH_INDEX_PREFIX", "cloudshelf-")
# A customer's search waits at most this long for OpenSearch before the database answers.
OPENSEARCH_TIMEOUT = env_float("OPENSEARCH_TIMEOUT", 0.5, minimum=0.05)
# Amazon OpenSearch Service with an IAM access policy (infra/, docs/deploy.md): every request is
# signed with SigV4 for this region, with credentials from the standard AWS chain (the Lambda or
# task role). Empty: no signing (a local node, or credentials in OPENSEARCH_URL).
OPENSEARCH_AWS_REGION = env_str("OPENSEARCH_AWS_REGION")
# Index builds and bulk updates run in the background and may wait longer.
OPENSEARCH_BULK_TIMEOUT = env_float("OPENSEARCH_BULK_TIMEOUT", 30, minimum=1)
# The breaker opens after this many failures or timeouts within the window, sends every
# search to the database for the cool-down, then lets one search probe OpenSearch.
SEARCH_BREAKER_FAILURES = env_int("SEARCH_BREAKER_FAILURES", 3, minimum=1)
SEARCH_BREAKER_WINDOW = env_float("SEARCH_BREAKER_WINDOW", 30, minimum=1)
SEARCH_BREAKER_COOLDOWN = env_float("SEARCH_BREAKER_COOLDOWN", 10, minimum=0.1)
# Serve every search from the database (maintenance, benchmarks of the fallback).
SEARCH_FORCE_FALLBACK = env_bool("SEARCH_FORCE_FALLBACK", False)
SEARCH_PAGE_SIZE = env_int("SEARCH_PAGE_SIZE", 24, minimum=1)
# Deeper result pages are refused: nobody reads page 80 of a search, and deep
# from/size paging is what makes a search engine slow.
SEARCH_MAX_PAGE = env_int("SEARCH_MAX_PAGE", 50, minimum=1)
# How long OpenSearch's answer to a search (ids, counts, facets) is shared; every index
# write retires all answers at once (see search.result_cache). 0 turns the cache off.
SEARCH_RESULTS_CACHE_SECONDS = env_int("SEARCH_RESULTS_CACHE_SECONDS", 300, minimum=0)
# Facets are counted over this many best matches per shard; past it the counts are estimates
# (search.backends.opensearch._add_facets), so a common word costs what a rare one does.
SEARCH_FACET_SAMPLE = env_int("SEARCH_FACET_SAMPLE", 2000, minimum=100)
# Longer queries are cut at a word boundary (a pasted paragraph is not a search).
SEARCH_MAX_QUERY_LENGTH = env_int("SEARCH_MAX_QUERY_LENGTH", 200, minimum=10)
# Synonym edits reach every process within this many seconds (plus 5 s of in-process memo).
SEARCH_SYNONYMS_CACHE_SECONDS = env_int("SEARCH_SYNONYMS_CACHE_SECONDS", 30, minimum=1)
# Book changes are collected this long and indexed together with one bulk request.
SEARCH_INDEX_DEBOUNCE_SECONDS = env_float("SEARCH_INDEX_DEBOUNCE_SECONDS", 1.0, minimum=0)
# A sync that failed (OpenSearch down) keeps its books queued and tries again this much later.
SEARCH_SYNC_RETRY_SECONDS = env_float("SEARCH_SYNC_RETRY_SECONDS", 30.0, minimum=0.1)
SEARCH_INDEX_SHARDS = env_int("SEARCH_INDEX_SHARDS", 1, minimum=1)
SEARCH_INDEX_REPLICAS = env_int("SEARCH_INDEX_REPLICAS", 0, minimum=0)
# Backups of the live books index (search.snapshots; docs/opensearch.md "Backups and restore"):
# snapshots go to this repository, registered from code on first use. Empty: no snapshots.
SEARCH_SNAPSHOT_REPOSITORY = env_str("SEARCH_SNAPSHOT_REPOSITORY", "cloudshelf-snapshots")
# "fs" on the local node; "s3" when deployed (the repository-s3 plugin, or Amazon OpenSearch
# Service with a role_arn), e.g. {"bucket": "cloudshelf-backups", "base_path": "search"}.
SEARCH_SNAPSHOT_REPOSITORY_TYPE = env_str("SEARCH_SNAPSHOT_REPOSITORY_TYPE", "fs")
# The repository's settings as a JSON object; an fs location is relative to the node's
# path.repo (var/opensearch/snapshots, set by scripts/opensearch.sh).
SEARCH_SNAPSHOT_REPOSITORY_SETTINGS = env_json_object(
    "SEARCH_SNAPSHOT_REPOSITORY_SETTINGS", {"location": "cloudshelf", "compress": True}
)
# Successful snapshots of this prefix kept; older ones are deleted after each new one (2 days at 6 h).
SEARCH_SNAPSHOT_KEEP = env_int("SEARCH_SNAPSHOT_KEEP", 8, minimum=1)
# The hours (a crontab hour field, UTC) beat takes a snapshot, at minute 23: every 6 h by default.
SEARCH_SNAPSHOT_HOURS = env_str("SEARCH_SNAPSHOT_HOURS", "*/6")
# How long a snapshot or restore is waited for (it carries on in the cluster past it).
SEARCH_SNAPSHOT_TIMEOUT = env_int("SEARCH_SNAPSHOT_TIMEOUT", 1800, minimum=10)
# Celery beat's schedule (and the Lambda shape's EventBridge rules): cloudshelf.schedule. The
# drift check runs only with a table; snapshots only with a repository.
CELERY_BEAT_SCHEDULE = beat_schedule(
    dynamodb_table=DYNAMODB_TABLE,
    search_snapshot_hours=SEARCH_SNAPSHOT_HOURS if SEARCH_SNAPSHOT_REPOSITORY else None,
    search_index_prefix=SEARCH_INDEX_PREFIX,
)

# --- Partner API ----------------------------------------------------------------------
# /api/v1/ (cloudshelf.api, endpoints in each app's api.py); see docs/api.md.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 24, minimum=1)
API_MAX_PAGE_SIZE = env_int("API_MAX_PAGE_SIZE", 100, minimum=1)
# Cache-Control max-age of catalog answers (they are the same for every partner), and of
# availability (stock moves faster, so shorter).
API_CACHE_MAX_AGE = env_int("API_CACHE_MAX_AGE", 60, minimum=0)
API_AVAILABILITY_MAX_AGE = env_int("API_AVAILABILITY_MAX_AGE", 10, minimum=0)
# last_used_at of a key is written at most once per this many seconds (one cache round trip otherwise).
API_KEY_LAST_USED_INTERVAL = env_int("API_KEY_LAST_USED_INTERVAL", 60, minimum=1)
# Calls without a valid key (schema, docs, bad keys) share a bucket per client address.
API_ANONYMOUS_RATE_PER_SECOND = env_float("API_ANONYMOUS_RATE_PER_SECOND", 5, minimum=0.01)
API_ANONYMOUS_BURST = env_int("API_ANONYMOUS_BURST", 30, minimum=1)
# Largest request body the API reads: an order's JSON is under 2 KiB, so 64 KiB is room to spare; larger is 413 unread.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
# How long a key that matched nothing is remembered (the evictable cache, by hash): a client
# retrying a bad key costs a cache read, not a query; short, since it only bounds that memory.
API_BAD_KEY_CACHE_SECONDS = env_int("API_BAD_KEY_CACHE_SECONDS", 5, minimum=0)
# Where the API machinery looks keys up (cloudshelf.api.authentication.KeyStore): the
# partners app's, named here so that cloudshelf.api imports no domain app.
API_KEY_STORE = "partners.keys.ApiKeyStore"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["cloudshelf.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["cloudshelf.api.authentication.IsActivePartner"],
    # Throttling is per partner plan in the API middleware (Redis GCRA), before any view runs.
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["cloudshelf.api.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cloudshelf.api.renderers.OrjsonParser"],
    "DEFAULT_PAGINATION_CLASS": "cloudshelf.api.pagination.KeysetPagination",
    "DEFAULT_METADATA_CLASS": "cloudshelf.api.metadata.EndpointMetadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cloudshelf.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CloudShelf Partner API",
    "DESCRIPTION": (
        "Books, availability, authors, categories, reviews, search, and carts and orders placed on "
        "behalf of your customers. Send your key as `Authorization: Bearer <key>` (or `X-API-Key`). "
        "Every answer carries `RateLimit-*` headers; errors share one shape (`code`, `message`, `fields`). "
        "Quick start: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # self-hosted assets: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cloudshelf.api.schema.add_shared_responses",
        "cart.api.add_cart_links",
    ],
}

# --- Server metrics (analytics.metrics; docs/observability.md) ---------------------------
# One CloudWatch EMF line per request and task on stdout, per-minute histograms in the durable
# Redis for the performance page, the fleet's totals at /metrics. 0: none of it (no line, no store).
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_NAMESPACE = env_str("METRICS_NAMESPACE", "CloudShelf/Performance")
# Each process writes its counts to Redis at most this often (one pipeline), and at exit.
METRICS_FLUSH_SECONDS = env_float("METRICS_FLUSH_SECONDS", 5.0, minimum=0)
# Minutes of histograms kept (the performance page looks back a day at most).
METRICS_RETENTION_HOURS = env_int("METRICS_RETENTION_HOURS", 25, minimum=2)
# Scrapers send `Authorization: Bearer <token>` to read /metrics; empty: only staff allowed the reports.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# A request slower than its route class's threshold logs a warning (logger cloudshelf.slow);
# METRICS_SLOW_<CLASS>_MS overrides one (the defaults: the service levels, else as below).
METRICS_SLOW_REQUEST_MS = {
    route_class: env_int(f"METRICS_SLOW_{route_class.upper()}_MS", default, minimum=1)
    for route_class, default in {
        "page": 2000, "search": 500, "cart": 200, "api": 1000,
        "admin": 2000, "static": 200, "health": 200, "other": 1000,
    }.items()
}  # fmt: skip
# A Celery task run longer than this logs a warning.
SLOW_TASK_MS = env_int("SLOW_TASK_MS", 10_000, minimum=1)
# OpenTelemetry traces over OTLP/HTTP (analytics.metrics.tracing); the endpoint and the rest
# come from the SDK's own variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME...).
OTEL_TRACES_ENABLED = env_bool("OTEL_TRACES_ENABLED", False)

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "raw": {"format": "%(message)s"},  # a JSON line as it is: CloudWatch Logs parses EMF from stdout
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "json_stdout": {
            "class": "analytics.metrics.emf.JsonLinesHandler",  # a StreamHandler with a fast path for EMF lines
            "formatter": "raw",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # opensearch-py logs every request (and a curl copy of it) at INFO; warnings and errors still show.
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "opensearch": {"level": "WARNING"},
        "opensearchpy.trace": {"level": "WARNING"},
        # EMF lines and slow-request/task warnings: JSON on stdout, not repeated by the root logger.
        "cloudshelf.metrics": {"handlers": ["json_stdout"], "level": "INFO", "propagate": False},
        "cloudshelf.slow": {"handlers": ["json_stdout"], "level": "WARNING", "propagate": False},
    },
}
