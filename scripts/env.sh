# shellcheck shell=bash
# Ports, paths and credentials for the local stack, sourced by scripts/*.sh.
# Keep the defaults in step with scripts/env.mk (the Makefile's copy); a variable that
# is already set in the environment wins, so `PG_PORT=55433 make services` works.

CLOUDSHELF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

: "${PG_PORT:=55432}"
: "${REDIS_PORT:=56379}"
# Two Redis roles (scripts/redis.sh, docs/operations.md): REDIS_PORT is the evictable cache,
# REDIS_DURABLE_PORT the durable one (carts, sessions, rate limits, the Celery broker).
: "${REDIS_DURABLE_PORT:=56380}"
# The cache's memory bound (LRU eviction past it) and the durable one's (writes refused past it).
: "${REDIS_CACHE_MAXMEMORY:=256mb}"
: "${REDIS_DURABLE_MAXMEMORY:=512mb}"
# The local Redis Cluster (scripts/redis.sh cluster-start): three masters on these ports, for the
# cluster test run (make pytest-cluster); each node's memory bound (writes refused past it).
: "${REDIS_CLUSTER_PORTS:=57001 57002 57003}"
: "${REDIS_CLUSTER_MAXMEMORY:=128mb}"
# Each node's cluster bus listens this far above its port (57101-57103; Redis's +10000 would pass 65535).
: "${REDIS_CLUSTER_BUS_OFFSET:=100}"
: "${GUNICORN_BIND:=127.0.0.1:8100}"
# The shared HTTP cache (scripts/nginx.sh) in front of gunicorn, as `make up` serves the site.
: "${NGINX_PORT:=8080}"

# Everything a checkout writes at run time lives under var/ (git-ignored), so two
# checkouts never share data files — only, by default, the same ports.
: "${VAR_DIR:=$CLOUDSHELF_ROOT/var}"
: "${RUN_DIR:=$VAR_DIR/run}"
: "${LOG_DIR:=$VAR_DIR/log}"
: "${PG_DATA:=$VAR_DIR/postgres}"
: "${PG_SOCKET_DIR:=$RUN_DIR/postgres}"
: "${PG_LOG:=$LOG_DIR/postgres.log}"
: "${PG_USER:=cloudshelf}"
: "${PG_PASSWORD:=cloudshelf}"
: "${PG_DATABASE:=cloudshelf}"
: "${REDIS_DIR:=$VAR_DIR/redis}"
: "${REDIS_DURABLE_DIR:=$VAR_DIR/redis-durable}"
: "${REDIS_CLUSTER_DIR:=$VAR_DIR/redis-cluster}"
: "${NGINX_DIR:=$VAR_DIR/nginx}"
: "${VENV_DIR:=$CLOUDSHELF_ROOT/.venv}"

export CLOUDSHELF_ROOT PG_PORT REDIS_PORT REDIS_DURABLE_PORT REDIS_CACHE_MAXMEMORY REDIS_DURABLE_MAXMEMORY REDIS_DURABLE_DIR GUNICORN_BIND NGINX_PORT NGINX_DIR VAR_DIR RUN_DIR LOG_DIR PG_DATA PG_SOCKET_DIR PG_LOG \
	PG_USER PG_PASSWORD PG_DATABASE REDIS_DIR VENV_DIR REDIS_CLUSTER_PORTS REDIS_CLUSTER_MAXMEMORY REDIS_CLUSTER_DIR \
	REDIS_CLUSTER_BUS_OFFSET

# OpenSearch (scripts/opensearch.sh): a single node of this checkout on loopback, with
# home, config, data and logs under var/opensearch. The transport port is set too, so two
# checkouts never meet on OpenSearch's default 9300. Downloads are verified once into a
# cache under the user's home that survives `make clean` and is shared by every checkout.
: "${OPENSEARCH_PORT:=59200}"
: "${OPENSEARCH_TRANSPORT_PORT:=59300}"
: "${OPENSEARCH_DIR:=$VAR_DIR/opensearch}"
# Empty: sized from the machine at each start (scripts/opensearch/heap.sh); e.g. 2g overrides.
: "${OPENSEARCH_HEAP:=}"
# Appended to the node's JVM options. C1-only JIT: the node is ready ~30% sooner, at the
# cost of peak query speed; set OPENSEARCH_JAVA_OPTS= (empty) for benchmarks.
: "${OPENSEARCH_JAVA_OPTS=-XX:TieredStopAtLevel=1}"
: "${CLOUDSHELF_CACHE_DIR:=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/cloudshelf}"
: "${MAVEN_REPO_URL:=https://repo1.maven.org/maven2}"

export OPENSEARCH_PORT OPENSEARCH_TRANSPORT_PORT OPENSEARCH_DIR OPENSEARCH_HEAP OPENSEARCH_JAVA_OPTS \
	CLOUDSHELF_CACHE_DIR MAVEN_REPO_URL

# moto in server mode (scripts/moto.sh): S3 and CloudFront for tests and local runs,
# reached by the application at AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT.
: "${MOTO_PORT:=55000}"
: "${MOTO_DIR:=$VAR_DIR/moto}"

export MOTO_PORT MOTO_DIR

# The streaming read replica of the Postgres above (scripts/postgres.sh replica-start; docs/database.md):
# a second cluster of this checkout, made by pg_basebackup from the primary, fed through a
# physical replication slot. The slot keeps the WAL a stopped replica still needs, up to
# PG_MAX_SLOT_WAL_KEEP_SIZE on the primary's disk; past that the slot is dropped as lost and
# the next replica-start rebuilds the replica.
: "${PG_REPLICA_PORT:=55433}"
: "${PG_REPLICA_DATA:=$VAR_DIR/postgres-replica}"
: "${PG_REPLICA_SOCKET_DIR:=$RUN_DIR/postgres-replica}"
: "${PG_REPLICA_LOG:=$LOG_DIR/postgres-replica.log}"
: "${PG_REPLICA_SLOT:=cloudshelf_replica}"
: "${PG_REPLICATION_USER:=replicator}"
: "${PG_REPLICATION_PASSWORD:=replicator}"
: "${PG_MAX_SLOT_WAL_KEEP_SIZE:=8GB}"

export PG_REPLICA_PORT PG_REPLICA_DATA PG_REPLICA_SOCKET_DIR PG_REPLICA_LOG PG_REPLICA_SLOT PG_REPLICATION_USER \
	PG_REPLICATION_PASSWORD PG_MAX_SLOT_WAL_KEEP_SIZE
