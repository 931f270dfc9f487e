# Ports, credentials and environment for the local stack and the test suite.
# Included by the Makefile; scripts/*.sh read the same values from scripts/env.sh.
PG_PORT ?= 55432
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
# gunicorn and appends the client's address to X-Forwarded-For.
RATE_LIMITS_ENABLED ?= 1

STACK_ENV := env DATABASE_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_PORT)/cloudshelf \
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/0 \
	CELERY_BROKER_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/2 \
	OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_PORT) \
	SECRET_KEY=local-stack-secret-key-not-for-production-0123456789abcdef ALLOW_INSECURE_HTTP=1 \
	RATE_LIMITS_ENABLED=$(RATE_LIMITS_ENABLED) TRUSTED_PROXY_COUNT=1 \
	GUNICORN_BIND=$(GUNICORN_BIND) PG_PORT=$(PG_PORT) REDIS_PORT=$(REDIS_PORT) REDIS_DURABLE_PORT=$(REDIS_DURABLE_PORT) \
	NGINX_PORT=$(NGINX_PORT) SITE_URL=http://127.0.0.1:$(NGINX_PORT) HTTP_CACHE_PURGE_URL=http://127.0.0.1:$(NGINX_PORT)

# The embedded default (SQLite, in-process cache, tasks run in-process): none of the services.
EMBEDDED_ENV := env -u DATABASE_URL -u REDIS_URL -u REDIS_DURABLE_URL -u CELERY_BROKER_URL -u OPENSEARCH_URL

TEST_ENV := env DATABASE_URL=postgres://cloudshelf:cloudshelf@127.0.0.1:$(PG_PORT)/cloudshelf \
	REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/1 \
	REDIS_DURABLE_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/1 \
	CELERY_BROKER_URL=redis://127.0.0.1:$(REDIS_DURABLE_PORT)/3 \
	OPENSEARCH_URL=http://127.0.0.1:$(OPENSEARCH_PORT) \
	SECRET_KEY=test-secret-key-not-for-production-0123456789abcdef ALLOW_INSECURE_HTTP=1 \
	AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	AWS_DEFAULT_REGION=us-east-1 MOTO_PORT=$(MOTO_PORT) \
	PG_PORT=$(PG_PORT) REDIS_PORT=$(REDIS_PORT) REDIS_DURABLE_PORT=$(REDIS_DURABLE_PORT)
