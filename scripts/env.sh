# shellcheck shell=bash
# Ports, paths and credentials for the local stack, sourced by scripts/*.sh.
# Keep the defaults in step with scripts/env.mk (the Makefile's copy); a variable that
# is already set in the environment wins, so `PG_PORT=55433 make services` works.

CLOUDSHELF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

: "${PG_PORT:=55432}"
: "${REDIS_PORT:=56379}"
: "${GUNICORN_BIND:=127.0.0.1:8100}"

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
: "${VENV_DIR:=$CLOUDSHELF_ROOT/.venv}"

export CLOUDSHELF_ROOT PG_PORT REDIS_PORT GUNICORN_BIND VAR_DIR RUN_DIR LOG_DIR PG_DATA PG_SOCKET_DIR PG_LOG \
	PG_USER PG_PASSWORD PG_DATABASE REDIS_DIR VENV_DIR
