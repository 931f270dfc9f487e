#!/usr/bin/env bash
# Our own Redis for this checkout: cache, sessions, carts and the Celery broker for local
# development and tests, listening only on 127.0.0.1:$REDIS_PORT (default 56379), with
# config, pid file and log in var/redis.
#
#   scripts/redis.sh install   apt-get install redis-server when redis-server is missing
#   scripts/redis.sh start     install if needed, start daemonized, wait for PING
#   scripts/redis.sh stop      shut down and wait for the process to exit
#   scripts/redis.sh status    exit 0 when it answers PING, 3 when it is stopped
#
# We never use the Debian service (there is no systemd here, and its port 6379 and
# /var/lib/redis would be shared by every checkout).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONF=$REDIS_DIR/redis.conf
PIDFILE=$REDIS_DIR/redis.pid
LOGFILE=$REDIS_DIR/redis.log
START_TIMEOUT=30

cmd_install() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
	info "redis-server not found; installing"
	apt_install redis-server redis-tools
	command -v redis-server >/dev/null || die "installed redis-server but it is still not on PATH"
}

ping() {
	[[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# Rewritten on every start so a changed REDIS_PORT or setting here takes effect on restart.
write_config() {
	cat >"$CONF" <<CONF
# Written by scripts/redis.sh on every start; edit the script, not this file.
# Loopback only, protected mode on: this instance has no password.
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
daemonize yes
pidfile $PIDFILE
logfile $LOGFILE
dir $REDIS_DIR
# Cache, sessions (backed by the database), carts and the broker of a dev/test box:
# nothing here must survive a restart, so no RDB snapshots and no append-only file.
save ""
appendonly no
# No maxmemory/eviction: carts and queued tasks live here too and must not be evicted.
CONF
}

check_port_free() {
	is_port_listening "$REDIS_PORT" || return 0
	local pid owner
	pid=$(listening_pid "$REDIS_PORT")
	owner=${pid:+$(describe_pid "$pid")}
	die "port $REDIS_PORT is already in use by ${owner:-another process}.
  If that is another checkout's Redis, stop it there (cd <that checkout> && scripts/redis.sh stop)
  or give this checkout other ports, e.g. PG_PORT=55433 REDIS_PORT=56380 make services"
}

cmd_start() {
	cmd_install
	mkdir -p "$REDIS_DIR"
	local pid i
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if ping; then
			info "already running on 127.0.0.1:$REDIS_PORT (pid $pid)"
			return 0
		fi
		# A second instance would overwrite the pid file and orphan this one.
		die "this checkout's Redis (pid $pid) runs but does not answer on port $REDIS_PORT; run scripts/redis.sh stop first"
	fi
	check_port_free
	write_config
	info "starting Redis on 127.0.0.1:$REDIS_PORT (log: $LOGFILE)"
	redis-server "$CONF" || {
		show_log_tail "$LOGFILE"
		die "redis-server failed to start"
	}
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if ping; then
			info "ready: redis://127.0.0.1:$REDIS_PORT"
			return 0
		fi
		sleep 0.1
	done
	show_log_tail "$LOGFILE"
	die "Redis did not answer PING on 127.0.0.1:$REDIS_PORT within ${START_TIMEOUT}s"
}

cmd_stop() {
	local pid
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "not running ($REDIS_DIR)"
		rm -f "$PIDFILE"
		return 0
	fi
	info "stopping Redis (pid $pid)"
	# SIGTERM is a clean shutdown; with persistence off there is nothing to save.
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" 30; then
		show_log_tail "$LOGFILE"
		die "Redis (pid $pid) did not exit within 30s"
	fi
	rm -f "$PIDFILE"
	info "stopped"
}

cmd_status() {
	local pid
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if command -v redis-cli >/dev/null && ping; then
			info "running and answering PING on 127.0.0.1:$REDIS_PORT (pid $pid)"
			return 0
		fi
		info "running (pid $pid) but not answering PING on 127.0.0.1:$REDIS_PORT"
		exit 1
	fi
	info "stopped ($REDIS_DIR)"
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
