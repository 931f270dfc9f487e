# Ports, credentials and environment for the local stack and the test suite.
# Included by the Makefile; scripts/*.sh read the same values from scripts/env.sh.
PG_PORT ?= 55432
# The streaming read replica of that Postgres (scripts/postgres.sh replica-start, docs/database.md).
PG_REPLICA_PORT ?= 55433
REDIS_PORT ?= 56379
# The durable Redis (carts, sessions, rate limits, the Celery broker); REDIS_PORT is the cache.
REDIS_DURABLE_PORT ?= 56380
GUNICORN_BIND ?= 127.0.0.1:8100
# The shared HTTP cache in front of gunicorn (scripts/nginx.sh); `make up` serves the site here.
NGINX_PORT ?= 8080
# OpenSearch (scripts/opensearch.sh); the app reaches it at OPENSEARCH_URL.
OPENSEARCH_PORT ?= 59200
OPENSEARCH_TRANSPORT_PORT ?= 59300
# moto in server mode (scripts/moto.sh): S3 and CloudFront for the tests, at AWS_ENDPOINT_URL.
MOTO_PORT ?= 55000

# The site's abuse limits (cloudshelf.ratelimit) are on in the stack as in production. A load
# test sends everything from one address, which they rightly refuse: benchmark a stack started
# with `make up RATE_LIMITS_ENABLED=0`. TRUSTED_PROXY_COUNT=1: nginx is the one proxy in front of
# gunicorn and appends the client's address to X-Forwarded-For; it also overwrites X-Request-Start,
# so Django may read the queueing time from it (LOAD_SHED_TRUST_REQUEST_START=1, load shedding).
RATE_LIMITS_ENABLED ?= 1

# The benchmark catalog the stack serves: `make up/seed/bench BOOKS=1000000`. The default
# 100,000 books live in database cloudshelf with the default index and cache prefixes; any
# other size gets its own database cloudshelf_books<N>, indices books<N>-* and Redis keys
# cs-books<N>:*, so catalogs sit side by side and switching rebuilds neither.
BOOKS ?= 100000
ifneq ($(shell [[ '$(BOOKS)' =~ ^[1-9][0-9]*$$ ]] && echo ok),ok)
$(error BOOKS=$(BOOKS) is not a number of books, e.g. BOOKS=1000000)
endif
ifeq ($(BOOKS),100000)
STACK_DATABASE := cloudshelf
STACK_CATALOG_ENV :=
else
STACK_DATABASE := cloudshelf_books$(BOOKS)
STACK_CATALOG_ENV := SEARCH_INDEX_PREFIX=books$(BOOKS)- CACHE_KEY_PREFIX=cs-books$(BOOKS)
endif
# Which BOOKS the running gunicorn and Celery serve (they keep the environment they started with).
STACK_BOOKS_FILE := var/run/stack-books

STACK_ENV := env DATABASE_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_PORT)/$(STACK_DATABASE) $(STACK_CATALOG_ENV) \
	DATABASE_REPLICA_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_REPLICA_PORT)/$(STACK_DATABASE) \
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/0 \
	CELERY_BROKER_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/2 \
	OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_PORT) \
	SECRET_KEY=local-stack-secret-key-not-for-production-0123456789abcdef ALLOW_INSECURE_HTTP=1 \
	RATE_LIMITS_ENABLED=$(RATE_LIMITS_ENABLED) TRUSTED_PROXY_COUNT=1 LOAD_SHED_TRUST_REQUEST_START=1 \
	GUNICORN_BIND=$(GUNICORN_BIND) PG_PORT=$(PG_PORT) REDIS_PORT=$(REDIS_PORT) REDIS_DURABLE_PORT=$(REDIS_DURABLE_PORT) \
	NGINX_PORT=$(NGINX_PORT) SITE_URL=http://127.0.0.1:$(NGINX_PORT) HTTP_CACHE_PURGE_URL=http://127.0.0.1:$(NGINX_PORT)

# `make bench`'s own process (not the stack's): moto for the DynamoDB benchmark's table.
BENCH_AWS_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_DEFAULT_REGION=us-east-1

# The embedded default (SQLite, in-process cache, tasks run in-process): none of the services.
EMBEDDED_ENV := env -u DATABASE_URL -u DATABASE_REPLICA_URL -u REDIS_URL -u REDIS_DURABLE_URL -u CELERY_BROKER_URL -u OPENSEARCH_URL

# The replica: tests/ops/test_replica_standby.py routes reads to it (the rest of the suite reads
# the primary: tests/conftest.py); Django derives the test database's name, which the standby streams.
TEST_ENV := env DATABASE_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_PORT)/cloudshelf \
	DATABASE_REPLICA_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_REPLICA_PORT)/cloudshelf \
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/1 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/1 \
	CELERY_BROKER_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/3 \
	OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_PORT) \
	SECRET_KEY=test-secret-key-not-for-production-0123456789abcdef ALLOW_INSECURE_HTTP=1 \
	AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_DEFAULT_REGION=us-east-1 MOTO_PORT=$(MOTO_PORT) \
	PG_PORT=$(PG_PORT) REDIS_PORT=$(REDIS_PORT) REDIS_DURABLE_PORT=$(REDIS_DURABLE_PORT)

# `make pytest-cluster`: the same suite settings with both Redis aliases on the local Redis
# Cluster (scripts/redis.sh cluster-start: three masters, seeded from the first port; database 0
# only, so runs are told apart by key prefix). The Celery broker stays on the single node.
REDIS_CLUSTER_PORTS ?= 57001 57002 57003
CLUSTER_TEST_ENV := $(TEST_ENV) REDIS_CLUSTER=1 \
	REDIS_URL=redis://127.0.0.1:$(firstword $(REDIS_CLUSTER_PORTS))/0 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(firstword $(REDIS_CLUSTER_PORTS))/0 \
	CACHE_KEY_PREFIX=cs-cluster-test

# The relevance suite's dev catalog (`make relevance`, tests/search/test_relevance_suite.py): a
# database, index prefix and Redis databases of its own (the stack uses 0 and 2, the tests 1 and
# 3), no kept answers (a ranking change is scored at once) and a timeout that a cold node does
# not hit (the suite fails rather than score the fallback in OpenSearch's place).
RELEVANCE_ENV := env DATABASE_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_PORT)/cloudshelf_relevance \
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/4 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/4 \
	CELERY_BROKER_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/5 \
	OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_PORT) OPENSEARCH_TIMEOUT=5 \
	SEARCH_INDEX_PREFIX=relevance- SEARCH_RESULTS_CACHE_SECONDS=0 \
	SECRET_KEY=relevance-secret-key-not-for-production-0123456789abcdef ALLOW_INSECURE_HTTP=1
