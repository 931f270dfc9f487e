#!/usr/bin/env bash
# Our own PostgreSQL cluster for this checkout: data in var/postgres, listening only on
# 127.0.0.1:$PG_PORT (default 55432), socket in var/run/postgres.
#
#   scripts/postgres.sh install   install the server from Debian packages when it is missing
#   scripts/postgres.sh start     install if needed, initdb once, start, ensure role and database
#   scripts/postgres.sh stop      fast shutdown (rolls back open transactions, no crash recovery)
#   scripts/postgres.sh status    exit 0 when it accepts connections, 3 when it is stopped
#
# We never touch the Debian system cluster (pg_ctlcluster, port 5432): each checkout owns
# its data so `make clean` can wipe it, and a fresh clone starts from an empty cluster.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Postgres refuses to run as root, so the cluster belongs to this system user.
PG_OS_USER=postgres
START_TIMEOUT=60

# The newest installed server, unless the data directory was made by another major
# version: a cluster only opens with the binaries of the version that created it.
find_bin_dir() {
	local dir version
	if [[ -s $PG_DATA/PG_VERSION ]]; then
		version=$(<"$PG_DATA/PG_VERSION")
		dir=/usr/lib/postgresql/$version/bin
		[[ -x $dir/postgres ]] && echo "$dir" && return 0
		die "$PG_DATA was created by PostgreSQL $version, whose binaries are not installed (rm -rf it to start over)"
	fi
	for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		[[ -x $dir/postgres && -x $dir/initdb && -x $dir/pg_ctl ]] && echo "$dir" && return 0
	done
	return 1
}

cmd_install() {
	if find_bin_dir >/dev/null; then
		return 0
	fi
	info "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; installing"
	apt_install postgresql postgresql-contrib
	find_bin_dir >/dev/null || die "installed postgresql but still no server binaries under /usr/lib/postgresql/*/bin"
}

ensure_os_user() {
	id -u "$PG_OS_USER" >/dev/null 2>&1 && return 0
	info "creating system user $PG_OS_USER"
	useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin "$PG_OS_USER"
}

# Run a command as the postgres user from /, so it never trips over an unreadable cwd.
as_postgres() {
	(cd / && runuser -u "$PG_OS_USER" -- "$@")
}

# The postgres user must be able to walk down to var/. A clone under a private home
# directory (mode 700) would block it, so grant traverse-only (o+x, not read) where missing.
ensure_traversable() {
	local path=$1 dir=""
	local IFS=/
	for part in ${path#/}; do
		dir="$dir/$part"
		if ! as_postgres test -x "$dir"; then
			info "granting traverse permission (o+x) on $dir so the $PG_OS_USER user can reach $PG_DATA"
			chmod o+x "$dir"
		fi
	done
}

prepare_dirs() {
	# The unix socket path is limited to 107 bytes by the kernel.
	((${#PG_SOCKET_DIR} + 16 <= 107)) || die "socket directory path too long for a unix socket: $PG_SOCKET_DIR (clone to a shorter path)"
	mkdir -p "$VAR_DIR" "$RUN_DIR" "$LOG_DIR"
	ensure_traversable "$VAR_DIR"
	mkdir -p "$PG_DATA" "$PG_SOCKET_DIR"
	touch "$PG_LOG"
	chown "$PG_OS_USER:" "$PG_DATA" "$PG_SOCKET_DIR" "$PG_LOG"
	chmod 700 "$PG_DATA"
}

init_cluster() {
	[[ -s $PG_DATA/PG_VERSION ]] && return 0
	if [[ -n "$(ls -A "$PG_DATA")" ]]; then
		die "$PG_DATA is not empty but holds no cluster (a failed initdb?); remove it and run start again"
	fi
	info "initdb $PG_DATA"
	# peer over the socket for the postgres superuser (this script), passwords over TCP for
	# the app. C.UTF-8 exists on every Debian machine; other locales may not be generated.
	as_postgres "$BIN/initdb" -D "$PG_DATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=peer --auth-host=scram-sha-256 >/dev/null
	# Our settings live in their own file, rewritten on every start (see write_config).
	echo "include_if_exists = 'cloudshelf.conf'" >>"$PG_DATA/postgresql.conf"
}

# Rewritten on every start so a changed PG_PORT or tuning here takes effect on restart.
write_config() {
	cat >"$PG_DATA/cloudshelf.conf" <<CONF
# Written by scripts/postgres.sh on every start; edit the script, not this file.
# Loopback only: this cluster has a well-known password and must never face a network.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
# gunicorn threads + Celery + a parallel test run with persistent connections add up.
max_connections = 200
# Light tuning for a 24 GB dev box that also runs the app, Redis and the tests.
shared_buffers = 512MB
effective_cache_size = 4GB
work_mem = 16MB
maintenance_work_mem = 256MB
# A local dev/test cluster: a crash may lose the last few hundred milliseconds of commits
# (never corrupt data — fsync stays on), and in exchange every commit skips the WAL flush
# wait, which makes the test suite and seeding markedly faster. Never do this in production.
synchronous_commit = off
fsync = on
timezone = 'UTC'
log_timezone = 'UTC'
# Surface slow queries in var/log/postgres.log while developing.
log_min_duration_statement = 500ms
log_line_prefix = '%m [%p] %q%u@%d '
CONF
	chown "$PG_OS_USER:" "$PG_DATA/cloudshelf.conf"
}

is_running() {
	as_postgres "$BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

is_ready() {
	"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2
}

# Refuse to start when someone else holds the port — typically the cluster of another
# checkout of this repository — and say who, instead of failing deep in the log.
check_port_free() {
	is_port_listening "$PG_PORT" || return 0
	local pid owner
	pid=$(listening_pid "$PG_PORT")
	owner=${pid:+$(describe_pid "$pid")}
	die "port $PG_PORT is already in use by ${owner:-another process}.
  If that is another checkout's cluster, stop it there (cd <that checkout> && scripts/postgres.sh stop)
  or give this checkout other ports, e.g. PG_PORT=55433 REDIS_PORT=56380 make services"
}

wait_until_ready() {
	local i
	for ((i = 0; i < START_TIMEOUT; i++)); do
		is_ready && return 0
		sleep 1
	done
	show_log_tail "$PG_LOG"
	die "PostgreSQL did not accept connections on 127.0.0.1:$PG_PORT within ${START_TIMEOUT}s"
}

# Idempotent: the app role (CREATEDB, because pytest creates test databases; pg_trgm is a
# trusted extension, so a database owner may create it) and the app database.
ensure_role_and_database() {
	as_postgres "$BIN/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres -X -q -v ON_ERROR_STOP=1 \
		-v role="$PG_USER" -v password="$PG_PASSWORD" -v db="$PG_DATABASE" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SQL
}

cmd_start() {
	require_root
	cmd_install
	BIN=$(find_bin_dir)
	ensure_os_user
	prepare_dirs
	init_cluster
	if is_running; then
		# postmaster.pid line 4 is the port the running cluster listens on.
		local running_port
		running_port=$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null || true)
		[[ $running_port == "$PG_PORT" ]] ||
			die "this checkout's cluster is running on port ${running_port:-?}, not PG_PORT=$PG_PORT; run scripts/postgres.sh stop first"
		wait_until_ready
		info "already running on 127.0.0.1:$PG_PORT ($PG_DATA)"
	else
		check_port_free
		write_config
		info "starting PostgreSQL $(<"$PG_DATA/PG_VERSION") on 127.0.0.1:$PG_PORT (log: $PG_LOG)"
		if ! as_postgres "$BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$START_TIMEOUT" start >/dev/null; then
			show_log_tail "$PG_LOG"
			die "pg_ctl start failed"
		fi
		wait_until_ready
	fi
	ensure_role_and_database
	info "ready: postgres://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DATABASE"
}

cmd_stop() {
	require_root
	if ! BIN=$(find_bin_dir) || [[ ! -s $PG_DATA/PG_VERSION ]] || ! is_running; then
		info "not running ($PG_DATA)"
		return 0
	fi
	info "stopping PostgreSQL ($PG_DATA)"
	if ! as_postgres "$BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null; then
		show_log_tail "$PG_LOG"
		die "pg_ctl stop failed"
	fi
	info "stopped"
}

cmd_status() {
	if ! BIN=$(find_bin_dir); then
		info "not installed"
		exit 3
	fi
	if [[ -s $PG_DATA/PG_VERSION ]] && is_running; then
		if is_ready; then
			info "running and accepting connections on 127.0.0.1:$PG_PORT ($PG_DATA)"
			return 0
		fi
		info "running but not accepting connections on 127.0.0.1:$PG_PORT ($PG_DATA)"
		exit 1
	fi
	info "stopped ($PG_DATA)"
	exit 3
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 {install|start|stop|status}" >&2
	exit 2
	;;
esac
