# shellcheck shell=bash
# Helpers shared by scripts/postgres.sh, redis.sh, app.sh and smoke_embedded.sh.

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

SCRIPT_NAME="$(basename "$0" .sh)"

info() { printf '%s: %s\n' "$SCRIPT_NAME" "$*"; }
die() {
	printf '%s: ERROR: %s\n' "$SCRIPT_NAME" "$*" >&2
	exit 1
}

require_root() {
	# Installing packages and switching to the postgres user both need root; the dev
	# boxes and CI machines run as root, so there is no sudo anywhere.
	[[ $EUID -eq 0 ]] || die "run as root (installs packages and runs Postgres as the postgres user)"
}

# Print the last lines of a log file, for "it did not come up" messages.
show_log_tail() {
	local file=$1
	if [[ -f $file ]]; then
		printf -- '----- last 40 lines of %s -----\n' "$file" >&2
		tail -n 40 "$file" >&2
		printf -- '-----\n' >&2
	else
		printf '(no log file at %s)\n' "$file" >&2
	fi
}

# The pid of whichever process listens on 127.0.0.1:<port> (or any address), empty if none.
listening_pid() {
	local port=$1
	ss -H -ltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2 || true
}

is_port_listening() {
	[[ -n "$(ss -H -ltn "sport = :$1" 2>/dev/null)" ]]
}

# Describe a process by its command line and working directory, so a port clash can
# name the other checkout (Postgres and Redis both chdir into their data directory).
describe_pid() {
	local pid=$1 cmd cwd
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's/ *$//' || echo '?')
	cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null || echo '?')
	printf 'pid %s (%s) running in %s' "$pid" "$cmd" "$cwd"
}

# Install Debian packages without prompts and without letting their maintainer scripts
# start the system services (we run our own instances on our own ports).
APT_UPDATED=0
apt_install() {
	require_root
	command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
	local policy=/usr/sbin/policy-rc.d created_policy=0
	if [[ ! -e $policy ]]; then
		# Exit code 101 tells invoke-rc.d "do not start services" — the same trick Docker
		# images use; removed again right after the install.
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		created_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	local status=0
	{
		if [[ $APT_UPDATED -eq 0 ]]; then
			info "apt-get update"
			apt-get -o DPkg::Lock::Timeout=300 update -q
			APT_UPDATED=1
		fi
		info "apt-get install -y $*"
		apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@"
	} || status=$?
	[[ $created_policy -eq 1 ]] && rm -f "$policy"
	[[ $status -eq 0 ]] || die "apt-get install $* failed (exit $status)"
}

# Read a pid file and print the pid when that process is alive.
live_pid_from_file() {
	local file=$1 pid
	[[ -f $file ]] || return 1
	pid=$(head -n 1 "$file" 2>/dev/null | tr -dc '0-9')
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

# Wait for a pid to exit, up to <seconds>; returns 1 if it is still alive.
wait_for_exit() {
	local pid=$1 seconds=$2 i
	for ((i = 0; i < seconds * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# --- The embedded default on a free port (scripts/smoke_embedded.sh, scripts/lighthouse.sh) ---
# embedded_prepare NAME: nothing configured (SQLite and the in-process cache, as `make run`)
# in a fresh DATA_DIR of its own; sets PY, DATA_DIR (exported), SERVER_LOG and SERVER_PID="".
embedded_prepare() {
	PY=$VENV_DIR/bin/python
	[[ -x $PY ]] || die "$PY not found; run \`make venv\` first"
	# The embedded default is "nothing set": clear whatever the caller's shell exports.
	unset DATABASE_URL DATABASE_REPLICA_URL REDIS_URL REDIS_DURABLE_URL CELERY_BROKER_URL OPENSEARCH_URL DYNAMODB_TABLE
	DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cloudshelf-$1.XXXXXX")
	export DATA_DIR
	SERVER_LOG=$DATA_DIR/runserver.log
	SERVER_PID=""
}

embedded_manage() { (cd "$CLOUDSHELF_ROOT" && "$PY" manage.py "$@"); }

# embedded_server_start: runserver on a port the kernel says is free (never colliding with a
# server already up), waiting until /health answers; sets PORT, BASE and SERVER_PID.
embedded_server_start() {
	PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	BASE=http://127.0.0.1:$PORT
	info "runserver 127.0.0.1:$PORT"
	(cd "$CLOUDSHELF_ROOT" && exec "$PY" manage.py runserver "127.0.0.1:$PORT" --noreload) >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	local i
	for ((i = 0; i < 120; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || die "runserver exited before answering"
		curl -s -o /dev/null --max-time 1 "$BASE/health" && return 0
		sleep 0.25
	done
	die "runserver did not answer /health within 30 s"
}

# embedded_server_stop: stop the runserver embedded_server_start began, if it still runs.
embedded_server_stop() {
	if [[ -n ${SERVER_PID:-} ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait_for_exit "$SERVER_PID" 10 || kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
}
