#!/usr/bin/env bash
# moto in server mode for this checkout: a local stand-in for S3 and CloudFront that the
# application reaches through AWS_ENDPOINT_URL exactly as it reaches AWS (boto3 reads the
# variable natively), so the code has no test-only branches. Listens only on
# 127.0.0.1:$MOTO_PORT (default 55000); pid file and log in var/moto. State is in memory:
# a restart starts with no buckets and no distributions.
#
#   scripts/moto.sh start     start in the background (from .venv), wait until it answers
#   scripts/moto.sh stop      stop it and wait for the process to exit
#   scripts/moto.sh status    exit 0 when it answers, 3 when it is stopped
#
# moto comes from requirements-dev.txt (`make dev-venv`): it is a test and development
# tool, never part of the production stack.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PIDFILE=$MOTO_DIR/moto.pid
LOGFILE=$MOTO_DIR/moto.log
START_TIMEOUT=30

answers() {
	# /moto-api/ is moto's own dashboard: a 200 there is moto, not some other server on the port.
	[[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null)" == 200 ]]
}

check_port_free() {
	is_port_listening "$MOTO_PORT" || return 0
	local pid owner
	pid=$(listening_pid "$MOTO_PORT")
	owner=${pid:+$(describe_pid "$pid")}
	die "port $MOTO_PORT is already in use by ${owner:-another process}.
  If that is another checkout's moto, stop it there (scripts/moto.sh stop) or set MOTO_PORT=55001"
}

cmd_start() {
	if [[ ! -x $VENV_DIR/bin/moto_server ]]; then
		# `make up` installs only the runtime dependencies; nothing there needs moto.
		info "moto_server is not installed in $VENV_DIR (make dev-venv installs it); not started"
		return 0
	fi
	mkdir -p "$MOTO_DIR"
	local pid i
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if answers; then
			info "already running on 127.0.0.1:$MOTO_PORT (pid $pid)"
			return 0
		fi
		die "this checkout's moto (pid $pid) runs but does not answer on port $MOTO_PORT; run scripts/moto.sh stop first"
	fi
	check_port_free
	info "starting moto on 127.0.0.1:$MOTO_PORT (log: $LOGFILE)"
	# setsid: its own session, so it outlives the make that started it and a Ctrl-C there.
	setsid "$VENV_DIR/bin/moto_server" --host 127.0.0.1 --port "$MOTO_PORT" >>"$LOGFILE" 2>&1 </dev/null &
	echo $! >"$PIDFILE"
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		if answers; then
			info "ready: http://127.0.0.1:$MOTO_PORT (AWS_ENDPOINT_URL)"
			return 0
		fi
		if ! live_pid_from_file "$PIDFILE" >/dev/null; then
			show_log_tail "$LOGFILE"
			die "moto_server exited during start-up"
		fi
		sleep 0.1
	done
	show_log_tail "$LOGFILE"
	die "moto did not answer on 127.0.0.1:$MOTO_PORT within ${START_TIMEOUT}s"
}

cmd_stop() {
	local pid
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "not running ($MOTO_DIR)"
		rm -f "$PIDFILE"
		return 0
	fi
	info "stopping moto (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" 15; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_for_exit "$pid" 5 || die "moto (pid $pid) did not exit"
	fi
	rm -f "$PIDFILE"
	info "stopped"
}

cmd_status() {
	local pid
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if answers; then
			info "running and answering on 127.0.0.1:$MOTO_PORT (pid $pid)"
			return 0
		fi
		info "running (pid $pid) but not answering on 127.0.0.1:$MOTO_PORT"
		exit 1
	fi
	info "stopped ($MOTO_DIR)"
	exit 3
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 {start|stop|status}" >&2
	exit 2
	;;
esac
