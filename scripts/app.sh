#!/usr/bin/env bash
# The application processes of the production-shaped stack, run by supervisord so that one
# that exits (a crash, a broker blip that kills the Celery worker) is started again:
# gunicorn (gunicorn.conf.py), one Celery worker and Celery beat (when CELERY_BROKER_URL is
# set). The config is written from scripts/supervisor/ into var/run; logs go to var/log.
#
#   scripts/app.sh start    start supervisord (or any stopped program), wait until /health
#                           answers 200 and the worker is ready
#   scripts/app.sh stop     graceful stop of every program and of supervisord, waiting for them
#   scripts/app.sh status   exit 0 when every program runs, 3 when supervisord is stopped,
#                           1 otherwise
#
# The caller passes the environment (DATABASE_URL, REDIS_URL, REDIS_DURABLE_URL,
# CELERY_BROKER_URL, SECRET_KEY, ...): `make up` does, with STACK_ENV from scripts/env.mk.
# supervisord keeps it, so a program it restarts runs with the same settings.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEMPLATES=$CLOUDSHELF_ROOT/scripts/supervisor
CONF=$RUN_DIR/supervisord.conf
PIDFILE=$RUN_DIR/supervisord.pid
CELERY_LOG=$LOG_DIR/celery.log
START_TIMEOUT=30
# supervisord stops programs one by one (gunicorn 40 s, worker 60 s, beat 10 s at most).
STOP_TIMEOUT=120

require_venv() {
	[[ -x $VENV_DIR/bin/gunicorn && -x $VENV_DIR/bin/celery && -x $VENV_DIR/bin/supervisord ]] ||
		die "gunicorn/celery/supervisord not found in $VENV_DIR; run \`make venv\` first"
}

# Like lib.sh's wait_for_exit, but a zombie counts as gone: daemonized supervisord is
# reparented to PID 1, which in a container may reap it only seconds later.
wait_for_gone() {
	local pid=$1 seconds=$2 i state
	for ((i = 0; i < seconds * 10; i++)); do
		state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
		[[ -z $state || $state == Z ]] && return 0
		sleep 0.1
	done
	return 1
}

ctl() {
	"$VENV_DIR/bin/supervisorctl" -c "$CONF" "$@"
}

render() {
	sed -e "s|@ROOT@|$CLOUDSHELF_ROOT|g" -e "s|@VENV_DIR@|$VENV_DIR|g" \
		-e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@LOG_DIR@|$LOG_DIR|g" "$1"
}

# Rewritten on every start of supervisord, so an edited template takes effect on restart.
write_config() {
	{
		echo "; Written by scripts/app.sh from scripts/supervisor/; edit the templates, not this file."
		render "$TEMPLATES/supervisord.conf"
		if [[ -n ${CELERY_BROKER_URL:-} ]]; then
			render "$TEMPLATES/celery.conf"
		fi
	} >"$CONF"
}

start_supervisord() {
	local pid port
	if pid=$(live_pid_from_file "$PIDFILE"); then
		info "supervisord already running (pid $pid); starting any stopped program"
		ctl start all >/dev/null || true
		return 0
	fi
	port=${GUNICORN_BIND##*:}
	if is_port_listening "$port"; then
		pid=$(listening_pid "$port")
		die "port $port is already in use by ${pid:+$(describe_pid "$pid")}; stop it or set GUNICORN_BIND"
	fi
	if [[ -z ${CELERY_BROKER_URL:-} ]]; then
		# Without a broker, tasks run in-process (eager); a worker would have nothing to do.
		info "CELERY_BROKER_URL is not set: no Celery worker or beat (tasks run in-process)"
	fi
	write_config
	info "starting supervisord (config: $CONF, log: $LOG_DIR/supervisord.log)"
	(cd "$CLOUDSHELF_ROOT" && "$VENV_DIR/bin/supervisord" -c "$CONF") || {
		show_log_tail "$LOG_DIR/supervisord.log"
		die "supervisord failed to start"
	}
}

wait_for_gunicorn() {
	local i
	for ((i = 0; i < START_TIMEOUT * 4; i++)); do
		if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$GUNICORN_BIND/health")" == 200 ]]; then
			info "gunicorn answers http://$GUNICORN_BIND/health"
			return 0
		fi
		sleep 0.25
	done
	show_log_tail "$LOG_DIR/gunicorn.log"
	die "http://$GUNICORN_BIND/health did not answer 200 within ${START_TIMEOUT}s"
}

wait_for_worker() {
	local offset=$1 i
	[[ -n ${CELERY_BROKER_URL:-} ]] || return 0
	for ((i = 0; i < START_TIMEOUT * 4; i++)); do
		if ctl status celery-worker 2>/dev/null | grep -q RUNNING &&
			{ [[ $offset -lt 0 ]] || tail -c +"$((offset + 1))" "$CELERY_LOG" 2>/dev/null | grep -q ' ready\.'; }; then
			info "celery worker ready ($(ctl pid celery-worker 2>/dev/null || echo '?'))"
			return 0
		fi
		sleep 0.25
	done
	show_log_tail "$CELERY_LOG"
	die "celery worker did not report ready within ${START_TIMEOUT}s"
}

cmd_start() {
	require_venv
	mkdir -p "$RUN_DIR" "$LOG_DIR"
	# The log is appended to, so remember where this start begins before waiting for "ready";
	# a worker that was already running (offset -1) needs only to be RUNNING.
	local offset=0 pid
	[[ -f $CELERY_LOG ]] && offset=$(stat -c %s "$CELERY_LOG")
	if pid=$(live_pid_from_file "$PIDFILE") && ctl status celery-worker 2>/dev/null | grep -q RUNNING; then
		offset=-1
	fi
	start_supervisord
	wait_for_gunicorn
	wait_for_worker "$offset"
}

cmd_stop() {
	local pid
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "supervisord not running"
		rm -f "$PIDFILE"
		return 0
	fi
	# TERM to supervisord stops every program gracefully (each with its stopsignal and
	# stopwaitsecs, KILL after that), then supervisord exits.
	info "stopping supervisord and its programs (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_gone "$pid" "$STOP_TIMEOUT"; then
		show_log_tail "$LOG_DIR/supervisord.log"
		die "supervisord (pid $pid) did not exit within ${STOP_TIMEOUT}s"
	fi
	rm -f "$PIDFILE"
	info "stopped"
}

cmd_status() {
	local pid out
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "supervisord stopped"
		exit 3
	fi
	out=$(ctl status 2>&1) || true
	printf '%s\n' "$out"
	if grep -qv ' RUNNING ' <<<"$out"; then
		exit 1
	fi
	return 0
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
