#!/usr/bin/env bash
# Our own PostgreSQL cluster for this checkout: data in var/postgres, listening only on
# 127.0.0.1:$PG_PORT (default 55432), socket in var/run/postgres.
#
#   scripts/postgres.sh install   install the server from Debian packages when it is missing
#   scripts/postgres.sh start     install if needed, initdb once, start, ensure role and database
#   scripts/postgres.sh stop      fast shutdown (rolls back open transactions, no crash recovery)
#   scripts/postgres.sh status    exit 0 when it accepts connections, 3 when it is stopped
#
# And a streaming read replica of it (docs/database.md): data in var/postgres-replica,
# 127.0.0.1:$PG_REPLICA_PORT (default 55433), made with pg_basebackup -R, fed through the
# physical replication slot $PG_REPLICA_SLOT.
#
#   scripts/postgres.sh replica-start   (the primary must be running) set up replication on the
#                                       primary, make the replica once, start it, wait until it
#                                       streams; re-makes it when the primary was re-initialised
#                                       or its slot was lost
#   scripts/postgres.sh replica-stop    fast shutdown of the replica (its slot keeps its WAL)
#   scripts/postgres.sh replica-status  exit 0 when it streams, 1 when up but not streaming, 3 when stopped
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
# The replica gets the same file with its own port and socket (write_config DATA PORT SOCKET_DIR).
write_config() {
	local data=${1:-$PG_DATA} port=${2:-$PG_PORT} socket_dir=${3:-$PG_SOCKET_DIR}
	cat >"$data/cloudshelf.conf" <<CONF
# Written by scripts/postgres.sh on every start; edit the script, not this file.
# Loopback only: this cluster has a well-known password and must never face a network.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$socket_dir'
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
# With commits not flushed, a commit's WAL leaves for the replica when the WAL writer flushes
# it: every 10 ms instead of the default 200 ms, so the page cache's replica fence
# (docs/database.md) waits milliseconds for a render's commits, not its whole 50 ms.
wal_writer_delay = 10ms
timezone = 'UTC'
log_timezone = 'UTC'
# Surface slow queries in var/log/postgres.log while developing.
log_min_duration_statement = 500ms
log_line_prefix = '%m [%p] %q%u@%d '
# Streaming replication (scripts/postgres.sh replica-start). The first three are PostgreSQL's
# defaults, written down because a replica cannot work without them (wal_level needs a restart).
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
# An abandoned slot keeps WAL on this disk forever; past this much the slot is given up ("lost")
# and the next replica-start rebuilds the replica instead.
max_slot_wal_keep_size = '$PG_MAX_SLOT_WAL_KEEP_SIZE'
# On the replica: answer reads while replaying. No feedback to the primary: with it, the
# primary's VACUUM keeps every row the replica's oldest snapshot might read (reports, but also
# a snapshot up to wal_receiver_status_interval old when idle), so pages written in the last
# seconds are never all-visible and index-only scans visit the heap. Without it, a replica
# query that conflicts with replayed cleanup is cancelled after max_standby_streaming_delay:
# our reports run in well under a second, and a lagging replica gets no reads (the router).
hot_standby = on
hot_standby_feedback = off
max_standby_streaming_delay = 30s
CONF
	chown "$PG_OS_USER:" "$data/cloudshelf.conf"
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

# --- The streaming read replica --------------------------------------------------------

# psql as the postgres superuser over a cluster's socket: unaligned, tuples only. Variables
# (-v name=value) are interpolated only in SQL read from stdin, never in -c.
primary_psql() {
	as_postgres "$BIN/psql" -h "$PG_SOCKET_DIR" -p "$PG_PORT" -d postgres -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

replica_psql() {
	as_postgres "$BIN/psql" -h "$PG_REPLICA_SOCKET_DIR" -p "$PG_REPLICA_PORT" -d postgres -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

replica_exists() {
	[[ -s $PG_REPLICA_DATA/PG_VERSION ]]
}

replica_is_running() {
	replica_exists && as_postgres "$BIN/pg_ctl" -D "$PG_REPLICA_DATA" status >/dev/null 2>&1
}

replica_is_ready() {
	"$BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_REPLICA_PORT" -t 2
}

prepare_replica_dirs() {
	((${#PG_REPLICA_SOCKET_DIR} + 16 <= 107)) || die "socket directory path too long for a unix socket: $PG_REPLICA_SOCKET_DIR"
	mkdir -p "$PG_REPLICA_SOCKET_DIR" "$(dirname "$PG_REPLICA_LOG")" "$(dirname "$PG_REPLICA_DATA")"
	ensure_traversable "$(dirname "$PG_REPLICA_DATA")"
	touch "$PG_REPLICA_LOG"
	chown "$PG_OS_USER:" "$PG_REPLICA_SOCKET_DIR" "$PG_REPLICA_LOG"
}

# What the primary needs to feed a replica, idempotently: its replication settings (reloaded,
# none of them needs a restart unless wal_level was lowered), a role allowed to replicate, and
# a loopback-only pg_hba line for that role.
ensure_primary_replication() {
	local wal_level hba_line
	wal_level=$(primary_psql -c "SHOW wal_level")
	[[ $wal_level == replica || $wal_level == logical ]] ||
		die "the primary runs with wal_level=$wal_level: restart it (scripts/postgres.sh stop && scripts/postgres.sh start) to turn replication on"
	write_config
	hba_line="host replication $PG_REPLICATION_USER 127.0.0.1/32 scram-sha-256"
	if ! grep -qxF "$hba_line" "$PG_DATA/pg_hba.conf"; then
		info "allowing replication connections of $PG_REPLICATION_USER from 127.0.0.1 only (pg_hba.conf)"
		# First match wins: on top of initdb's lines.
		{
			echo "# The read replica (scripts/postgres.sh replica-start): its role, from loopback only."
			echo "$hba_line"
			cat "$PG_DATA/pg_hba.conf"
		} >"$PG_DATA/pg_hba.conf.new"
		chown "$PG_OS_USER:" "$PG_DATA/pg_hba.conf.new"
		chmod 600 "$PG_DATA/pg_hba.conf.new"
		mv "$PG_DATA/pg_hba.conf.new" "$PG_DATA/pg_hba.conf"
	fi
	primary_psql -c "SELECT pg_reload_conf()" >/dev/null
	primary_psql -v role="$PG_REPLICATION_USER" -v password="$PG_REPLICATION_PASSWORD" <<'SQL' >/dev/null
SELECT format('CREATE ROLE %I LOGIN REPLICATION PASSWORD %L', :'role', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN REPLICATION PASSWORD %L', :'role', :'password') \gexec
SQL
}

# The slot's wal_status on the primary: reserved/extended/unreserved while it holds WAL, lost
# once max_slot_wal_keep_size gave it up, empty when there is no such slot.
slot_status() {
	primary_psql -v slot="$PG_REPLICA_SLOT" <<'SQL'
SELECT coalesce(wal_status, 'none') FROM pg_replication_slots WHERE slot_name = :'slot';
SQL
}

# Why the replica in PG_REPLICA_DATA must be made again from the primary (empty: it need not).
replica_rebuild_reason() {
	local slot=$1 primary_id replica_id
	replica_exists || {
		echo "there is none yet"
		return 0
	}
	[[ -f $PG_REPLICA_DATA/standby.signal ]] || {
		echo "it is no longer a standby (promoted?)"
		return 0
	}
	primary_id=$(primary_psql -c "SELECT system_identifier FROM pg_control_system()")
	replica_id=$(as_postgres "$BIN/pg_controldata" "$PG_REPLICA_DATA" | sed -n 's/^Database system identifier: *//p')
	[[ $primary_id == "$replica_id" ]] || {
		echo "the primary was re-initialised (system identifier $primary_id, the replica's $replica_id)"
		return 0
	}
	case $slot in
	"") echo "its replication slot $PG_REPLICA_SLOT is gone, and with it the WAL it may need" ;;
	lost) echo "its replication slot was given up (more than PG_MAX_SLOT_WAL_KEEP_SIZE=$PG_MAX_SLOT_WAL_KEEP_SIZE of WAL behind)" ;;
	esac
}

stop_replica() {
	replica_is_running || return 0
	info "stopping the replica ($PG_REPLICA_DATA)"
	as_postgres "$BIN/pg_ctl" -D "$PG_REPLICA_DATA" -m fast -w -t 60 stop >/dev/null || {
		show_log_tail "$PG_REPLICA_LOG"
		die "pg_ctl stop of the replica failed"
	}
}

# A fresh slot and a base backup into a new directory, swapped in only once it is complete:
# an interrupted copy never leaves a half replica behind.
make_replica() {
	local slot=$1 building="$PG_REPLICA_DATA.building"
	if [[ -n $slot ]]; then
		primary_psql -v slot="$PG_REPLICA_SLOT" <<<"SELECT pg_drop_replication_slot(:'slot')" >/dev/null
	fi
	# Reserved at once: from here on the primary keeps every WAL segment the copy will need.
	primary_psql -v slot="$PG_REPLICA_SLOT" <<<"SELECT pg_create_physical_replication_slot(:'slot', true)" >/dev/null
	rm -rf "$building"
	mkdir -p "$building"
	chown "$PG_OS_USER:" "$building"
	chmod 700 "$building"
	info "pg_basebackup of 127.0.0.1:$PG_PORT into $PG_REPLICA_DATA (a copy of the whole cluster: $(du -sh "$PG_DATA" | cut -f1))"
	# A progress line on a terminal (the copy of a big catalog takes a while), none in logs.
	local progress=()
	[[ -t 2 ]] && progress=(--progress)
	# -R writes standby.signal and primary_conninfo (with primary_slot_name, from -S).
	if ! as_postgres env PGPASSWORD="$PG_REPLICATION_PASSWORD" "$BIN/pg_basebackup" --host=127.0.0.1 --port="$PG_PORT" \
		--username="$PG_REPLICATION_USER" --no-password --pgdata="$building" --write-recovery-conf \
		--wal-method=stream --slot="$PG_REPLICA_SLOT" --checkpoint=fast "${progress[@]}"; then
		rm -rf "$building"
		die "pg_basebackup failed"
	fi
	rm -rf "$PG_REPLICA_DATA"
	mv "$building" "$PG_REPLICA_DATA"
}

wait_until_streaming() {
	local i status=""
	for ((i = 0; i < START_TIMEOUT; i++)); do
		status=$(replica_psql -c "SELECT status FROM pg_stat_wal_receiver" 2>/dev/null || true)
		[[ $status == streaming ]] && return 0
		sleep 1
	done
	show_log_tail "$PG_REPLICA_LOG"
	die "the replica on 127.0.0.1:$PG_REPLICA_PORT is not streaming from the primary after ${START_TIMEOUT}s (wal receiver: ${status:-none})"
}

cmd_replica_start() {
	require_root
	BIN=$(find_bin_dir) || die "PostgreSQL is not installed: scripts/postgres.sh start first"
	[[ -s $PG_DATA/PG_VERSION ]] && is_running && is_ready ||
		die "the primary is not running on 127.0.0.1:$PG_PORT: scripts/postgres.sh start first"
	prepare_replica_dirs
	ensure_primary_replication
	local slot reason
	slot=$(slot_status)
	reason=$(replica_rebuild_reason "$slot")
	if [[ -n $reason ]]; then
		info "making the replica: $reason"
		stop_replica
		make_replica "$slot"
	fi
	if replica_is_running; then
		local running_port
		running_port=$(sed -n 4p "$PG_REPLICA_DATA/postmaster.pid" 2>/dev/null || true)
		[[ $running_port == "$PG_REPLICA_PORT" ]] ||
			die "this checkout's replica is running on port ${running_port:-?}, not PG_REPLICA_PORT=$PG_REPLICA_PORT; run scripts/postgres.sh replica-stop first"
	else
		if is_port_listening "$PG_REPLICA_PORT"; then
			die "port $PG_REPLICA_PORT is already in use by $(describe_pid "$(listening_pid "$PG_REPLICA_PORT")"); set PG_REPLICA_PORT"
		fi
		write_config "$PG_REPLICA_DATA" "$PG_REPLICA_PORT" "$PG_REPLICA_SOCKET_DIR"
		info "starting the replica on 127.0.0.1:$PG_REPLICA_PORT (log: $PG_REPLICA_LOG)"
		if ! as_postgres "$BIN/pg_ctl" -D "$PG_REPLICA_DATA" -l "$PG_REPLICA_LOG" -w -t "$START_TIMEOUT" start >/dev/null; then
			show_log_tail "$PG_REPLICA_LOG"
			die "pg_ctl start of the replica failed"
		fi
	fi
	wait_until_streaming
	info "replica streaming: postgres://$PG_USER:***@127.0.0.1:$PG_REPLICA_PORT/$PG_DATABASE (slot $PG_REPLICA_SLOT)"
}

cmd_replica_stop() {
	require_root
	if ! BIN=$(find_bin_dir) || ! replica_is_running; then
		info "replica not running ($PG_REPLICA_DATA)"
		return 0
	fi
	stop_replica
	info "replica stopped; slot $PG_REPLICA_SLOT keeps its WAL on the primary (up to $PG_MAX_SLOT_WAL_KEEP_SIZE)"
}

cmd_replica_status() {
	BIN=$(find_bin_dir) || {
		info "not installed"
		exit 3
	}
	if ! replica_is_running; then
		info "replica stopped ($PG_REPLICA_DATA)"
		exit 3
	fi
	local state
	state=$(replica_psql -F ' ' <<'SQL' 2>/dev/null || true
SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'not-receiving'),
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE round(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::numeric, 3) END
SQL
)
	if [[ $state == streaming\ * ]]; then
		info "replica streaming on 127.0.0.1:$PG_REPLICA_PORT, ${state#streaming } s behind ($PG_REPLICA_DATA)"
		return 0
	fi
	info "replica running on 127.0.0.1:$PG_REPLICA_PORT but not streaming (${state:-not accepting connections})"
	exit 1
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
replica-start) cmd_replica_start ;;
replica-stop) cmd_replica_stop ;;
replica-status) cmd_replica_status ;;
*)
	echo "usage: $0 {install|start|stop|status|replica-start|replica-stop|replica-status}" >&2
	exit 2
	;;
esac
