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
#   scripts/redis.sh cluster-start                  a Redis Cluster of three masters (no replicas)
#                                                   on REDIS_CLUSTER_PORTS (57001-57003), for the
#                                                   cluster test run; reuses a healthy cluster,
#                                                   resets a broken one (its data is test data)
#   scripts/redis.sh cluster-stop                   shut its nodes down (nodes.conf is kept, so
#                                                   a restart rejoins the same cluster)
#   scripts/redis.sh cluster-status                 exit 0 when the cluster is ok, 3 when every
#                                                   node is stopped, 1 otherwise
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

# --- The local Redis Cluster (docs/operations.md, "Redis Cluster") ---------------------------
# Three masters in cluster mode, each with its own directory var/redis-cluster/<port> (config,
# nodes.conf, append-only file, log, pid). The cluster plays both roles at once in the cluster
# test run (REDIS_URL and REDIS_DURABLE_URL both seed from it), so it takes the durable role's
# safe settings: append-only file, noeviction.

cluster_ports() { echo "$REDIS_CLUSTER_PORTS"; }

node_dir() { echo "$REDIS_CLUSTER_DIR/$1"; }

node_cli() {
	local port=$1
	shift
	redis-cli -h 127.0.0.1 -p "$port" "$@"
}

node_ping() { [[ "$(node_cli "$1" ping 2>/dev/null)" == PONG ]]; }

write_node_config() {
	local port=$1 dir
	dir=$(node_dir "$port")
	cat >"$dir/redis.conf" <<CONF
# Written by scripts/redis.sh cluster-start; edit the script, not this file.
bind 127.0.0.1
protected-mode yes
port $port
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
cluster-enabled yes
# The cluster bus port: Redis's default (port + 10000) does not exist above 55535.
cluster-port $((port + REDIS_CLUSTER_BUS_OFFSET))
cluster-config-file nodes.conf
cluster-node-timeout 5000
# With no replicas, a node that is down takes its slots with it; the others keep serving theirs.
cluster-require-full-coverage no
save ""
appendonly yes
appendfsync everysec
appenddirname appendonly
maxmemory $REDIS_CLUSTER_MAXMEMORY
maxmemory-policy noeviction
CONF
}

start_node() {
	local port=$1 dir pid i
	dir=$(node_dir "$port")
	mkdir -p "$dir"
	if pid=$(live_pid_from_file "$dir/redis.pid"); then
		node_ping "$port" && return 0
		die "the cluster node on port $port (pid $pid) runs but does not answer; run scripts/redis.sh cluster-stop first"
	fi
	if is_port_listening "$port"; then
		pid=$(listening_pid "$port")
		die "port $port (Redis Cluster node) is already in use by ${pid:+$(describe_pid "$pid")}; set REDIS_CLUSTER_PORTS to free ports"
	fi
	write_node_config "$port"
	redis-server "$dir/redis.conf" || {
		show_log_tail "$dir/redis.log"
		die "redis-server (cluster node $port) failed to start"
	}
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		node_ping "$port" && return 0
		# Daemonized: a node that refused its configuration is gone; no use waiting for it.
		((i > 10)) && ! live_pid_from_file "$dir/redis.pid" >/dev/null && break
		sleep 0.1
	done
	show_log_tail "$dir/redis.log"
	die "the cluster node on 127.0.0.1:$port did not answer PING within ${START_TIMEOUT}s"
}

# Healthy: state ok, every node knows the others, all 16384 slots served, and no slot left
# half moved (a migrating/importing mark from an interrupted reshard: "[slot->-id]").
cluster_healthy() {
	local port info
	for port in $(cluster_ports); do
		info=$(node_cli "$port" cluster info 2>/dev/null | tr -d '\r') || return 1
		grep -qx 'cluster_state:ok' <<<"$info" || return 1
		grep -qx 'cluster_slots_ok:16384' <<<"$info" || return 1
		grep -qx "cluster_known_nodes:$(wc -w <<<"$(cluster_ports)")" <<<"$info" || return 1
		node_cli "$port" cluster nodes 2>/dev/null | grep myself | grep -q '\[' && return 1
	done
	return 0
}

# Every node knows all the others (from its nodes.conf, at once on a restart). When one does not
# (fresh nodes, or one that lost its nodes.conf), waiting cannot make the cluster healthy.
cluster_nodes_known() {
	local port count
	count=$(wc -w <<<"$(cluster_ports)")
	for port in $(cluster_ports); do
		node_cli "$port" cluster info 2>/dev/null | tr -d '\r' | grep -qx "cluster_known_nodes:$count" || return 1
	done
}

# A restarted cluster takes a moment to agree again (the nodes reconnect through nodes.conf).
wait_cluster_healthy() {
	local seconds=$1 i
	for ((i = 0; i < seconds * 10; i++)); do
		cluster_healthy && return 0
		sleep 0.1
	done
	return 1
}

cluster_reset_and_create() {
	local port seeds=()
	for port in $(cluster_ports); do
		# Only this checkout's cluster nodes, never the cache or durable Redis.
		node_cli "$port" flushall >/dev/null
		node_cli "$port" cluster reset hard >/dev/null
		seeds+=("127.0.0.1:$port")
	done
	info "creating the Redis Cluster on ${seeds[*]}"
	redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes >"$REDIS_CLUSTER_DIR/create.log" 2>&1 || {
		cat "$REDIS_CLUSTER_DIR/create.log" >&2
		die "redis-cli --cluster create failed"
	}
	wait_cluster_healthy "$START_TIMEOUT" || {
		node_cli "$(cluster_ports | awk '{print $1}')" cluster info >&2 || true
		die "the new Redis Cluster did not reach cluster_state:ok within ${START_TIMEOUT}s"
	}
}

cmd_cluster_start() {
	local port seed
	mkdir -p "$REDIS_CLUSTER_DIR"
	for port in $(cluster_ports); do start_node "$port"; done
	seed=$(cluster_ports | awk '{print $1}')
	if cluster_nodes_known && wait_cluster_healthy 10; then
		info "Redis Cluster ready (reused): redis://127.0.0.1:$seed/0 seeds it"
		return 0
	fi
	# Fresh nodes (empty nodes.conf) or a cluster that lost its way: make it anew.
	cluster_reset_and_create
	info "Redis Cluster ready: redis://127.0.0.1:$seed/0 seeds it"
}

cmd_cluster_stop() {
	local port dir pid
	for port in $(cluster_ports); do
		dir=$(node_dir "$port")
		if ! pid=$(live_pid_from_file "$dir/redis.pid" 2>/dev/null); then
			rm -f "$dir/redis.pid"
			continue
		fi
		info "stopping the cluster node on port $port (pid $pid)"
		node_cli "$port" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
		wait_for_redis_exit "$pid" 30 || die "the cluster node on port $port (pid $pid) did not exit within 30s"
		rm -f "$dir/redis.pid"
	done
	info "Redis Cluster stopped"
}

cmd_cluster_status() {
	local port running=0 total=0
	for port in $(cluster_ports); do
		total=$((total + 1))
		live_pid_from_file "$(node_dir "$port")/redis.pid" >/dev/null 2>&1 && running=$((running + 1))
	done
	if [[ $running -eq 0 ]]; then
		info "Redis Cluster stopped ($REDIS_CLUSTER_DIR)"
		exit 3
	fi
	if command -v redis-cli >/dev/null && cluster_healthy; then
		info "Redis Cluster ok: $total masters on 127.0.0.1 ports $(cluster_ports)"
		return 0
	fi
	info "Redis Cluster not ok ($running of $total nodes running)"
	exit 1
}

action=${1:-}
case $action in
cluster-start | cluster-stop | cluster-status) ;;
*) roles=$(roles_of "${2:-all}") ;;
esac
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
cluster-start)
	cmd_install
	cmd_cluster_start
	;;
cluster-stop) cmd_cluster_stop ;;
cluster-status) cmd_cluster_status ;;
*)
	echo "usage: $0 {install|start|stop|status} [cache|durable|all] | $0 {cluster-start|cluster-stop|cluster-status}" >&2
	exit 2
	;;
esac
