#!/usr/bin/env bash
# The application processes of the production-shaped stack: gunicorn (gunicorn.conf.py)
# and one Celery worker, both daemonized with pid files in var/run and logs in var/log.
#
#   scripts/app.sh start    start both, wait until /health answers 200 and the worker is ready
#   scripts/app.sh stop     graceful stop of both, waiting for them to exit
#   scripts/app.sh status   exit 0 when both run, 3 when neither does, 1 otherwise
#
# The caller passes the environment (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL,
# SECRET_KEY, ...): `make up` does, with STACK_ENV from scripts/env.mk.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GUNICORN_PIDFILE=$RUN_DIR/gunicorn.pid
GUNICORN_LOG=$LOG_DIR/gunicorn.log
CELERY_PIDFILE=$RUN_DIR/celery.pid
CELERY_LOG=$LOG_DIR/celery.log
START_TIMEOUT=30

require_venv() {
	[[ -x $VENV_DIR/bin/gunicorn && -x $VENV_DIR/bin/celery ]] ||
		die "gunicorn/celery not found in $VENV_DIR; run \`make venv\` first"
}

start_gunicorn() {
	local pid port i
	if pid=$(live_pid_from_file "$GUNICORN_PIDFILE"); then
		info "gunicorn already running (pid $pid)"
	else
		port=${GUNICORN_BIND##*:}
		if is_port_listening "$port"; then
			pid=$(listening_pid "$port")
			die "port $port is already in use by ${pid:+$(describe_pid "$pid")}; stop it or set GUNICORN_BIND"
		fi
		info "starting gunicorn on $GUNICORN_BIND (log: $GUNICORN_LOG)"
		(cd "$CLOUDSHELF_ROOT" && "$VENV_DIR/bin/gunicorn" --config gunicorn.conf.py --daemon cloudshelf.wsgi:application) || {
			show_log_tail "$GUNICORN_LOG"
			die "gunicorn failed to start"
		}
	fi
	for ((i = 0; i < START_TIMEOUT * 4; i++)); do
		if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$GUNICORN_BIND/health")" == 200 ]]; then
			info "gunicorn answers http://$GUNICORN_BIND/health"
			return 0
		fi
		sleep 0.25
	done
	show_log_tail "$GUNICORN_LOG"
	die "http://$GUNICORN_BIND/health did not answer 200 within ${START_TIMEOUT}s"
}

start_celery() {
	local pid i
	if [[ -z ${CELERY_BROKER_URL:-} ]]; then
		# Without a broker, tasks run in-process (eager); a worker would have nothing to do.
		info "CELERY_BROKER_URL is not set: no Celery worker (tasks run in-process)"
		return 0
	fi
	if pid=$(live_pid_from_file "$CELERY_PIDFILE"); then
		info "celery worker already running (pid $pid)"
		return 0
	fi
	# The log is appended to, so remember where this start begins before waiting for "ready".
	local offset=0
	[[ -f $CELERY_LOG ]] && offset=$(stat -c %s "$CELERY_LOG")
	info "starting celery worker (log: $CELERY_LOG)"
	# --workdir: a detached worker otherwise chdirs to / and cannot import the project.
	"$VENV_DIR/bin/celery" --workdir "$CLOUDSHELF_ROOT" -A cloudshelf worker --concurrency 2 --loglevel info \
		--hostname "cloudshelf@%h" --detach --pidfile "$CELERY_PIDFILE" --logfile "$CELERY_LOG" || {
		show_log_tail "$CELERY_LOG"
		die "celery worker failed to start"
	}
	for ((i = 0; i < START_TIMEOUT * 4; i++)); do
		if tail -c +"$((offset + 1))" "$CELERY_LOG" 2>/dev/null | grep -q ' ready\.'; then
			info "celery worker ready (pid $(live_pid_from_file "$CELERY_PIDFILE" || echo '?'))"
			return 0
		fi
		sleep 0.25
	done
	show_log_tail "$CELERY_LOG"
	die "celery worker did not report ready within ${START_TIMEOUT}s"
}

# TERM is graceful for both (gunicorn finishes requests within graceful_timeout, Celery
# finishes running tasks); only a process that outlives the grace period gets KILL.
stop_by_pidfile() {
	local name=$1 pidfile=$2 grace=$3 pid
	if ! pid=$(live_pid_from_file "$pidfile"); then
		info "$name not running"
		rm -f "$pidfile"
		return 0
	fi
	info "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" "$grace"; then
		info "$name (pid $pid) still running after ${grace}s; sending KILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_for_exit "$pid" 10 || die "$name (pid $pid) survived KILL"
	fi
	rm -f "$pidfile"
	info "$name stopped"
}

cmd_start() {
	require_venv
	mkdir -p "$RUN_DIR" "$LOG_DIR"
	start_gunicorn
	start_celery
}

cmd_stop() {
	stop_by_pidfile gunicorn "$GUNICORN_PIDFILE" 40
	stop_by_pidfile "celery worker" "$CELERY_PIDFILE" 60
}

cmd_status() {
	local running=0 pid
	if pid=$(live_pid_from_file "$GUNICORN_PIDFILE"); then
		info "gunicorn running (pid $pid) on $GUNICORN_BIND"
		running=$((running + 1))
	else
		info "gunicorn stopped"
	fi
	if pid=$(live_pid_from_file "$CELERY_PIDFILE"); then
		info "celery worker running (pid $pid)"
		running=$((running + 1))
	else
		info "celery worker stopped"
	fi
	case $running in
	2) return 0 ;;
	0) exit 3 ;;
	*) exit 1 ;;
	esac
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
