# CloudShelf: `make run` serves the shop on the embedded default; `make test` starts the
# real services the suite needs and runs it. See README.md for every target.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

# The local production-shaped stack (ports and credentials live in scripts/env.sh).
include scripts/env.mk

.PHONY: help venv dev-venv run up down services services-down test pytest pytest-cluster smoke lighthouse lint fmt bench bench-redis-cluster loadtest loadtest-prepare loadtest-smoke loadtest-smoke-prepare capacity seed seed-analytics relevance synth cost deploy clean

help:
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (apt-get install python3.11 python3.11-venv)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed ## Create the virtualenv with the runtime dependencies

dev-venv: $(VENV)/.installed-dev ## Add the test and lint tools

run: venv ## Serve the shop on the embedded default (SQLite, in-process cache) at http://127.0.0.1:8000
	$(EMBEDDED_ENV) $(PY) manage.py migrate --no-input
	$(EMBEDDED_ENV) $(PY) manage.py seed_catalog --books 3000 --if-empty
	$(EMBEDDED_ENV) $(PY) manage.py search_index --check >/dev/null \
		|| $(EMBEDDED_ENV) $(PY) manage.py search_index --rebuild
	$(EMBEDDED_ENV) $(PY) manage.py collectstatic --no-input -v 0
	$(EMBEDDED_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

services: ## Install (when missing) and start Postgres and its read replica, both Redis roles (cache, durable), OpenSearch and moto on loopback
	PG_DATABASE=$(STACK_DATABASE) scripts/postgres.sh start
	@# Its streaming read replica (docs/database.md): the stack and the tests read from it.
	scripts/postgres.sh replica-start
	scripts/redis.sh start
	scripts/opensearch.sh start
	scripts/moto.sh start

services-down: ## Stop Postgres and its replica, both Redis roles, OpenSearch and moto
	-scripts/moto.sh stop
	-scripts/opensearch.sh stop
	-scripts/redis.sh stop
	-scripts/redis.sh cluster-stop
	-scripts/postgres.sh replica-stop
	-scripts/postgres.sh stop

up: venv services ## The production-shaped stack: Postgres, two Redis, gunicorn, Celery worker and beat (under supervisord), nginx in front; BOOKS=1000000 serves that catalog
	@# Running gunicorn and Celery keep the catalog they started with: switching restarts them,
	@# and drops nginx's kept pages, which are the other catalog's.
	@if [[ "$$(cat $(STACK_BOOKS_FILE) 2>/dev/null || echo 100000)" != "$(BOOKS)" ]]; then \
		echo "switching the stack to BOOKS=$(BOOKS)"; scripts/nginx.sh stop && scripts/app.sh stop && rm -rf var/nginx/cache; fi
	$(STACK_ENV) $(PY) manage.py migrate --no-input
	$(STACK_ENV) $(PY) manage.py collectstatic --no-input -v 0
	$(STACK_ENV) scripts/app.sh start
	$(STACK_ENV) scripts/nginx.sh start
	@mkdir -p $(dir $(STACK_BOOKS_FILE)) && echo $(BOOKS) >$(STACK_BOOKS_FILE)
	@echo "CloudShelf ($(BOOKS) books) is up at http://127.0.0.1:$(NGINX_PORT)/ (gunicorn directly: http://$(GUNICORN_BIND)/)  (make down stops it)"

down: ## Stop everything `make up` started
	-scripts/nginx.sh stop
	-scripts/app.sh stop
	-$(MAKE) services-down

lint: dev-venv ## ruff (lint and format check), mypy on every module and the import-linter contracts (pyproject.toml), migrations check, hadolint on the Dockerfile
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint Dockerfile
	$(EMBEDDED_ENV) $(PY) manage.py makemigrations --check --dry-run

fmt: dev-venv ## Format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The suite runs in PYTEST_WORKERS pytest-xdist processes (0: in this one), a test file per
# worker at a time (module fixtures such as a file's nginx stay in one process). Workers share
# the services but nothing else: each has its own test database (test_cloudshelf_gw0, ...),
# and cache keys, search indices, queues, ports and temporary directories carry its pid.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) $(if $(filter 0,$(PYTEST_WORKERS)),,--dist loadfile)

pytest: dev-venv services ## Only the pytest suite, against the real services (ARGS=... passes options; PYTEST_WORKERS=0 runs it in one process)
	@# Chromium and Lighthouse: the browser tests (layout, filters panel) run, never skip, in CI.
	scripts/tools.sh wrk chromium lighthouse
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_XDIST) $(ARGS)

# What runs against the Redis Cluster: everything that keeps state in Redis through Lua
# scripts, MULTI or several keys at once (docs/operations.md, "Redis Cluster").
CLUSTER_TESTS := tests/cluster tests/cart tests/test_ratelimit.py tests/test_site_limits.py tests/test_accounts.py \
	tests/search/test_breaker.py tests/search/test_result_cache.py tests/test_redis_cluster_keys.py \
	tests/resilience/test_breakers.py

pytest-cluster: dev-venv services ## The cart, rate-limit, session, breaker and search result cache tests against a local Redis Cluster (three masters, started here; make services-down stops it)
	scripts/redis.sh cluster-start
	$(CLUSTER_TEST_ENV) $(VENV)/bin/pytest $(PYTEST_XDIST) $(CLUSTER_TESTS) $(ARGS)

smoke: venv ## A short smoke test of the embedded default (SQLite, in-process cache)
	scripts/smoke_embedded.sh

lighthouse: venv ## Lighthouse accessibility of every kind of public page (Debian's Chromium, the embedded default on a free port); fails below 100; installs Chromium and Lighthouse when missing
	scripts/lighthouse.sh $(ARGS)

# Everything CI runs. The suite and the cluster tests first, each in PYTEST_WORKERS processes
# and with nothing else running beside it; then lint, the embedded smoke test, Lighthouse and the load
# test's preparation (Artillery's install, the stack, its small catalog) side by side: none
# shares another's services, ports or data, and none asserts a time; last the load-test smoke
# run, alone, since its criteria are latencies. The side-by-side step saves about 4 minutes.
test: ## Everything CI runs: pytest, pytest-cluster, then lint + smoke + lighthouse + the load test's preparation + synth of every deploy shape in parallel, then loadtest-smoke
	$(MAKE) --no-print-directory pytest
	$(MAKE) --no-print-directory pytest-cluster
	$(MAKE) --no-print-directory -j4 --output-sync=target lint smoke lighthouse loadtest-smoke-prepare synth
	$(MAKE) --no-print-directory loadtest-smoke

# The CloudFormation of every shape we deploy (infra/, docs/deploy.md): the three phases in the
# Lambda shape and Growth in the Fargate shape, each into var/cdk.out/<phase>-<compute>/. Offline
# (no context lookups), no telemetry; the feature flags' template validation turns findings into errors.
SYNTH_SHAPES := mvp-lambda growth-lambda scale-lambda growth-fargate
CDK_ENV := env CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20

synth: dev-venv ## Synthesize the CDK stacks, offline, into var/cdk.out/<phase>-<compute>/ (every shape; PHASE=growth [COMPUTE=fargate] one); installs the aws-cdk CLI when missing
	scripts/tools.sh cdk
	@set -euo pipefail; \
	shapes="$(SYNTH_SHAPES)"; [[ -z $${PHASE:-} ]] || shapes="$$PHASE-$${COMPUTE:-lambda}"; \
	for shape in $$shapes; do \
		[[ $$shape =~ ^(mvp|growth|scale)-(lambda|fargate)$$ ]] || \
			{ echo "synth: PHASE must be mvp, growth or scale and COMPUTE lambda or fargate (got '$$shape')" >&2; exit 2; }; \
	done; \
	for shape in $$shapes; do \
		phase=$${shape%-*}; compute=$${shape##*-}; out=$(CURDIR)/var/cdk.out/$$shape; \
		echo "synth: $$phase ($$compute) -> var/cdk.out/$$shape"; \
		rm -rf "$$out"; \
		(cd infra && $(CDK_ENV) node_modules/.bin/cdk synth --quiet --ci -c phase="$$phase" -c compute="$$compute" -o "$$out"); \
	done

# The monthly cost of one phase, priced from its synthesized templates with infra/prices.yml
# (docs/deploy.md, "Costs"). Synthesizes the phase first when its assembly is missing or older
# than the infrastructure code; the phase and compute are checked before anything runs.
COST_SOURCES := infra/app.py infra/cdk.json infra/cloudshelf_infra cloudshelf/schedule.py
cost: dev-venv ## The monthly cost of a phase from its synthesized stacks vs the document's budget (PHASE=mvp|growth|scale, COMPUTE=fargate for the container shape; ARGS=--json)
	@[[ -n "$(PHASE)" ]] || { echo "PHASE is required: make cost PHASE=growth [COMPUTE=fargate]" >&2; exit 2; }
	@$(PY) infra/cost.py --check --phase '$(PHASE)' --compute '$(or $(COMPUTE),lambda)'
	@out=var/cdk.out/$(PHASE)-$(or $(COMPUTE),lambda); \
	if [[ ! -f $$out/manifest.json ]] || [[ -n "$$(find $(COST_SOURCES) -newer $$out/manifest.json -print -quit 2>/dev/null)" ]]; then \
		$(MAKE) --no-print-directory synth PHASE=$(PHASE) COMPUTE=$(or $(COMPUTE),lambda) >&2; fi  # stdout is the estimate's (ARGS=--json)
	@$(PY) infra/cost.py --phase '$(PHASE)' --compute '$(or $(COMPUTE),lambda)' $(ARGS)

deploy: dev-venv ## Deploy one phase to AWS: the CDK stacks, then migrate and collectstatic (PHASE=mvp|growth|scale, COMPUTE=fargate for the container shape, ARGS=--dry-run to print the commands; README "Deploy")
	@[[ -n "$(PHASE)" ]] || { echo "PHASE is required: make deploy PHASE=growth [COMPUTE=fargate] [ARGS=--dry-run]" >&2; exit 2; }
	scripts/deploy.sh '$(PHASE)' --compute '$(or $(COMPUTE),lambda)' $(ARGS)

seed: up ## Load the benchmark catalog (BOOKS=100000 unless set) into the local stack's Postgres and index it
	$(STACK_ENV) $(PY) manage.py seed_catalog --books $(BOOKS) --seed 1 --if-empty
	$(STACK_ENV) $(PY) manage.py search_index --check || $(STACK_ENV) $(PY) manage.py search_index --rebuild

seed-analytics: up ## A synthetic year of orders, views, adds to cart and searches for the reports (DAYS=365 unless set; needs `make seed`)
	$(STACK_ENV) $(PY) manage.py seed_analytics --days $(or $(DAYS),365) --seed 1 --if-empty

bench: dev-venv ## Benchmarks against the production-shaped stack (NAME=pages runs one, BOOKS=1000000 that catalog's stack); installs wrk when missing
	scripts/tools.sh wrk
	@# moto (started by `make services` with the dev tools) for the DynamoDB benchmark's table: the
	@# benchmark process only; the stack itself runs without DynamoDB.
	$(STACK_ENV) $(BENCH_AWS_ENV) BENCH_MIN_BOOKS=$(BOOKS) $(PY) bench/run.py $(NAME)

bench-redis-cluster: dev-venv ## The Redis benchmark (bench/bench_redis.py) against the local Redis Cluster instead of the stack's single-node roles (make up first)
	scripts/redis.sh cluster-start
	$(STACK_ENV) REDIS_CLUSTER=1 REDIS_URL=redis://127.0.0.1:$(firstword $(REDIS_CLUSTER_PORTS))/0 \
		REDIS_DURABLE_URL=redis://127.0.0.1:$(firstword $(REDIS_CLUSTER_PORTS))/0 CACHE_KEY_PREFIX=cs-cluster-bench \
		$(PY) bench/run.py redis

# Load tests (docs/load-testing.md): Artillery profiles from loadtest/profiles.yml against the
# stack with its abuse limits off (one address sends everything, which they rightly refuse).
PROFILE ?=
SCALE ?= 1
TARGET ?= http://127.0.0.1:$(NGINX_PORT)
# The smoke run in `make test`: a catalog of its own, small enough to seed and index in seconds
# on a fresh machine, where 100,000 books take minutes (docs/load-testing.md, "In CI").
LOADTEST_SMOKE_BOOKS ?= 2000

# A running app started with the abuse limits on keeps them (supervisord keeps its
# environment): stop it so `make up RATE_LIMITS_ENABLED=0` starts it with them off.
define stop_app_with_rate_limits
	@pid=$$(cat var/run/supervisord.pid 2>/dev/null) && [[ -r /proc/$$pid/environ ]] \
		&& [[ "$$(tr '\0' '\n' </proc/$$pid/environ | sed -n 's/^RATE_LIMITS_ENABLED=//p')" != 0 ]] \
		&& { echo "restarting the app with RATE_LIMITS_ENABLED=0 for the load test"; scripts/app.sh stop; } || true
endef

loadtest: dev-venv ## An Artillery load profile against the stack (PROFILE=smoke|normal|peak|stress|endurance, SCALE=0.05 scales durations and rates, TARGET=http://127.0.0.1:8100 skips nginx); starts the stack with rate limits off and seeds it if needed; report in var/loadtest/
	@[[ -n "$(PROFILE)" ]] || { echo "PROFILE is required: make loadtest PROFILE=smoke (profiles: loadtest/profiles.yml)"; exit 2; }
	@# Bad PROFILE, SCALE or TARGET: refused before anything starts.
	$(PY) bench/loadtest.py --check --profile '$(PROFILE)' --scale '$(SCALE)' --target '$(TARGET)'
	$(MAKE) --no-print-directory loadtest-prepare BOOKS=$(BOOKS)
	$(STACK_ENV) $(PY) bench/loadtest.py --profile '$(PROFILE)' --scale '$(SCALE)' --target '$(TARGET)'

loadtest-prepare: dev-venv ## What a load test needs before it runs: Artillery, the stack with rate limits off, its catalog (BOOKS) seeded and indexed; each part skipped when done
	scripts/tools.sh artillery
	$(stop_app_with_rate_limits)
	$(MAKE) --no-print-directory seed BOOKS=$(BOOKS) RATE_LIMITS_ENABLED=0

loadtest-smoke-prepare:
	$(MAKE) --no-print-directory loadtest-prepare BOOKS=$(LOADTEST_SMOKE_BOOKS)

loadtest-smoke: ## The one-minute smoke profile on its own small catalog (LOADTEST_SMOKE_BOOKS); in `make test`
	$(MAKE) --no-print-directory loadtest PROFILE=smoke SCALE=1 BOOKS=$(LOADTEST_SMOKE_BOOKS)

capacity: dev-venv ## The highest arrival rate of the mixed shopper profile that meets every criterion, straight to gunicorn and through nginx (with its hit rate), beside a /health floor; ≤ 15 minutes
	scripts/tools.sh artillery wrk
	$(stop_app_with_rate_limits)
	$(MAKE) --no-print-directory seed BOOKS=$(BOOKS) RATE_LIMITS_ENABLED=0
	$(STACK_ENV) $(PY) bench/capacity.py $(ARGS)

relevance: dev-venv services ## Score search and autocomplete on the judged queries (builds the dev catalog once; ARGS=--reindex after a mapping change)
	$(RELEVANCE_ENV) $(PY) manage.py search_relevance --json var/relevance/figures.json $(ARGS)

clean: down ## Remove the virtualenv and all local data (databases, caches, logs)
	rm -rf $(VENV) var
