#!/usr/bin/env bash
# The container image's entrypoint (Dockerfile): one process per container, in the foreground,
# as `exec` so it is PID 1's only child and gets the runtime's SIGTERM directly.
#
#   container.sh web            gunicorn with gunicorn.conf.py on GUNICORN_BIND (default 0.0.0.0:8000)
#   container.sh worker         one Celery worker (the flags `make up` gives it: scripts/supervisor/celery.conf)
#   container.sh beat           Celery beat (exactly one per deployment, or every job is sent twice)
#   container.sh migrate        manage.py migrate --no-input (run once per deploy, before the new web)
#   container.sh manage ARGS... manage.py ARGS (collectstatic, createsuperuser, search_index, ...)
#   container.sh health         exit 0 when this container's gunicorn answers /health with 200 (HEALTHCHECK)
#
# Configuration is the environment (cloudshelf/settings.py, README's table of variables). VENV
# names a virtualenv whose bin/ holds python, gunicorn and celery (the image puts /opt/venv on
# PATH instead), so tests/deploy/test_container.py runs this same script from the repository.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN=${VENV:+$VENV/bin/}

usage() {
	echo "usage: $0 {web|worker|beat|migrate|manage ARGS...|health}" >&2
	exit 2
}

cd "$ROOT"
command=${1:-}
[[ $# -gt 0 ]] && shift
case "$command" in
web)
	[[ $# -eq 0 ]] || usage
	# gunicorn.conf.py binds to loopback unless told; in a container the load balancer is outside.
	export GUNICORN_BIND=${GUNICORN_BIND:-0.0.0.0:8000}
	exec "${BIN}gunicorn" --config gunicorn.conf.py cloudshelf.wsgi:application
	;;
worker)
	[[ $# -eq 0 ]] || usage
	# TERM is Celery's warm shutdown: running tasks finish (acks_late: a KILL only means a rerun).
	exec "${BIN}celery" --workdir "$ROOT" -A cloudshelf worker --concurrency "${CELERY_CONCURRENCY:-2}" \
		--loglevel "${CELERY_LOG_LEVEL:-info}" --hostname 'cloudshelf@%h'
	;;
beat)
	[[ $# -eq 0 ]] || usage
	# The schedule file is scratch (a restart that forgets it only resends idempotent jobs).
	exec "${BIN}celery" --workdir "$ROOT" -A cloudshelf beat --loglevel "${CELERY_LOG_LEVEL:-info}" \
		--schedule "${CELERY_BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}"
	;;
migrate)
	[[ $# -eq 0 ]] || usage
	exec "${BIN}python" manage.py migrate --no-input
	;;
manage)
	[[ $# -gt 0 ]] || usage
	exec "${BIN}python" manage.py "$@"
	;;
health)
	[[ $# -eq 0 ]] || usage
	# No curl in a slim image: Python's urllib. The Host is ALLOWED_HOSTS' first entry, since
	# Django answers 400 to any other (".example.com" stands for example.com, "*" for anything).
	bind=${GUNICORN_BIND:-0.0.0.0:8000}
	host=${ALLOWED_HOSTS:-localhost}
	host=${host%%,*}
	host=${host#"${host%%[![:space:]]*}"}
	host=${host#.}
	[[ -z $host || $host == "*" ]] && host=localhost
	exec "${BIN}python" -c 'import sys, urllib.request
request = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/health", headers={"Host": sys.argv[2]})
sys.exit(0 if urllib.request.urlopen(request, timeout=4).status == 200 else 1)' "${bind##*:}" "$host"
	;;
*)
	usage
	;;
esac
