#!/usr/bin/env bash
# This checkout's two Redis servers, each listening only on 127.0.0.1 with config, pid file,
# log (and, for the durable one, its append-only file) in a directory of its own under var/.
# Which data lives on which is in docs/operations.md.
#
#   cache    REDIS_PORT (56379), REDIS_DIR: the evictable cache (aliases "default",
#            "fragments", "pages"). maxmemory REDIS_CACHE_MAXMEMORY with allkeys-lru, no
#            persistence: anything here can be rebuilt from Postgres.
#   durable  REDIS_DURABLE_PORT (56380), REDIS_DURABLE_DIR: carts, sessions' cache, rate
#            limits (alias "durable") and the Celery broker. Append-only file fsynced every
#            second, and noeviction: at REDIS_DURABLE_MAXMEMORY writes fail loudly instead of
#            silently dropping a customer's cart or a queued task.
#
#   scripts/redis.sh install                        apt-get install redis-server when missing
#   scripts/redis.sh start  [cache|durable|all]     start (idempotent), wait for PING
#   scripts/redis.sh stop   [cache|durable|all]     shut down and wait for the process to exit
#   scripts/redis.sh status [cache|durable|all]     exit 0 when all answer PING, 3 when all are
#                                                   stopped, 1 otherwise
#
# The role defaults to "all". We never use the Debian service (there is no systemd here, and
# its port 6379 and /var/lib/redis would be shared by every checkout).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

START_TIMEOUT=30

# The role's port and directory, set by use_role.
ROLE="" PORT="" DIR="" CONF="" PIDFILE="" LOGFILE=""

use_role() {
	ROLE=$1
	case $ROLE in
	cache) PORT=$REDIS_PORT DIR=$REDIS_DIR ;;
	durable) PORT=$REDIS_DURABLE_PORT DIR=$REDIS_DURABLE_DIR ;;
	*) die "unknown Redis role '$ROLE' (cache, durable or all)" ;;
	esac
	CONF=$DIR/redis.conf
	PIDFILE=$DIR/redis.pid
	LOGFILE=$DIR/redis.log
}

cmd_install() {
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
	info "redis-server not found; installing"
	apt_install redis-server redis-tools
	command -v redis-server >/dev/null || die "installed redis-server but it is still not on PATH"
}

ping() {
	[[ "$(redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == PONG ]]
}

# The settings that differ between the roles.
role_config() {
	case $ROLE in
	cache)
		cat <<CONF
# The cache: everything here is rebuilt from Postgres on a miss, so no RDB snapshots and no
# append-only file, and under memory pressure the least recently used keys go.
save ""
appendonly no
maxmemory $REDIS_CACHE_MAXMEMORY
maxmemory-policy allkeys-lru
CONF
		;;
	durable)
		cat <<CONF
# Carts, sessions, rate limits and the broker's queues are data: every write goes to the
# append-only file, fsynced once a second (a crash loses at most about a second; a clean
# stop loses nothing). No RDB snapshots: the AOF is the copy.
save ""
appendonly yes
appendfsync everysec
appenddirname appendonly
# Never evict: when full, writes fail with an OOM error the application reports
# (the cart says it is unavailable) instead of silently dropping someone's cart.
maxmemory $REDIS_DURABLE_MAXMEMORY
maxmemory-policy noeviction
CONF
		;;
	esac
}

# Rewritten on every start so a changed port or setting here takes effect on restart.
write_config() {
	{
		cat <<CONF
# Written by scripts/redis.sh on every start ($ROLE role); edit the script, not this file.
# Loopback only, protected mode on: this instance has no password.
bind 127.0.0.1
protected-mode yes
port $PORT
daemonize yes
pidfile $PIDFILE
logfile $LOGFILE
dir $DIR
CONF
		role_config
	} >"$CONF"
}

check_port_free() {
	is_port_listening "$PORT" || return 0
	local pid owner
	pid=$(listening_pid "$PORT")
	owner=${pid:+$(describe_pid "$pid")}
	die "port $PORT ($ROLE Redis) is already in use by ${owner:-another process}.
  If that is another checkout's Redis, stop it there (cd <that checkout> && scripts/redis.sh stop)
  or give this checkout other ports, e.g. REDIS_PORT=56479 REDIS_DURABLE_PORT=56480 make services"
}

start_role() {
	use_role "$1"
	mkdir -p "$DIR"
	local pid i
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if ping; then
			info "$ROLE Redis already running on 127.0.0.1:$PORT (pid $pid)"
			return 0
		fi
		# A second instance would overwrite the pid file and orphan this one.
		die "this checkout's $ROLE Redis (pid $pid) runs but does not answer on port $PORT; run scripts/redis.sh stop $ROLE first"
	fi
	check_port_free
	write_config
	info "starting the $ROLE Redis on 127.0.0.1:$PORT (log: $LOGFILE)"
	redis-server "$CONF" || {
		show_log_tail "$LOGFILE"
		die "redis-server ($ROLE) failed to start"
	}
	# The durable one answers PING only once it has replayed its append-only file.
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if ping; then
			info "ready: redis://127.0.0.1:$PORT ($ROLE)"
			return 0
		fi
		sleep 0.1
	done
	show_log_tail "$LOGFILE"
	die "the $ROLE Redis did not answer PING on 127.0.0.1:$PORT within ${START_TIMEOUT}s"
}

stop_role() {
	use_role "$1"
	local pid
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "$ROLE Redis not running ($DIR)"
		rm -f "$PIDFILE"
		return 0
	fi
	info "stopping the $ROLE Redis (pid $pid)"
	# SHUTDOWN (or SIGTERM when it does not answer) is a clean stop: the durable one fsyncs its
	# append-only file first. SHUTDOWN acts at once; a signal waits for Redis's next timer tick.
	redis-cli -h 127.0.0.1 -p "$PORT" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_redis_exit "$pid" 30; then
		show_log_tail "$LOGFILE"
		die "the $ROLE Redis (pid $pid) did not exit within 30s"
	fi
	rm -f "$PIDFILE"
	info "$ROLE Redis stopped"
}

# Like lib.sh's wait_for_exit, but a zombie counts as gone: a daemonized Redis is reparented
# to PID 1, which in a container may reap it only seconds later.
wait_for_redis_exit() {
	local pid=$1 seconds=$2 i state
	for ((i = 0; i < seconds * 20; i++)); do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
		[[ -z $state || $state == Z ]] && return 0
		sleep 0.05
	done
	return 1
}

# Prints one line per role and returns 0 (answers), 1 (runs, no answer) or 3 (stopped).
status_role() {
	use_role "$1"
	local pid
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if command -v redis-cli >/dev/null && ping; then
			info "$ROLE Redis running and answering PING on 127.0.0.1:$PORT (pid $pid)"
			return 0
		fi
		info "$ROLE Redis running (pid $pid) but not answering PING on 127.0.0.1:$PORT"
		return 1
	fi
	info "$ROLE Redis stopped ($DIR)"
	return 3
}

roles_of() {
	case ${1:-all} in
	all) echo cache durable ;;
	cache | durable) echo "$1" ;;
	*)
		echo "unknown Redis role '$1' (cache, durable or all)" >&2
		exit 2
		;;
	esac
}

cmd_status() {
	local role code answering=0 stopped=0 total=0
	for role in $(roles_of "${1:-all}"); do
		total=$((total + 1))
		code=0
		status_role "$role" || code=$?
		[[ $code -eq 0 ]] && answering=$((answering + 1))
		[[ $code -eq 3 ]] && stopped=$((stopped + 1))
	done
	[[ $answering -eq $total ]] && return 0
	[[ $stopped -eq $total ]] && exit 3
	exit 1
}

action=${1:-}
roles=$(roles_of "${2:-all}")
case $action in
install) cmd_install ;;
start)
	cmd_install
	for role in $roles; do start_role "$role"; done
	;;
stop)
	for role in $roles; do stop_role "$role"; done
	;;
status) cmd_status "${2:-all}" ;;
*)
	echo "usage: $0 {install|start|stop|status} [cache|durable|all]" >&2
	exit 2
	;;
esac
