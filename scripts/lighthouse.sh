#!/usr/bin/env bash
# Lighthouse accessibility on every kind of public page (bench/lighthouse.py lists them),
# in Debian's Chromium, against the embedded default (what `make run` serves) in a fresh
# DATA_DIR with a small catalog, on a free loopback port of its own: no shared port, no
# shared service. Installs Chromium (apt) and the pinned Lighthouse (npm) when missing.
#
#   scripts/lighthouse.sh [--desktop] [--report-dir DIR]   exits 1 when a page scores below 100
#   make lighthouse ARGS=--desktop                         the same, as a wide screen
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=$VENV_DIR/bin/python
[[ -x $PY ]] || die "$PY not found; run \`make venv\` first"

"$CLOUDSHELF_ROOT/scripts/tools.sh" chromium lighthouse
export CHROME_PATH=${CHROME_PATH:-$(command -v chromium)}

unset DATABASE_URL REDIS_URL REDIS_DURABLE_URL CELERY_BROKER_URL OPENSEARCH_URL
DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cloudshelf-lighthouse.XXXXXX")
export DATA_DIR
SERVER_LOG=$DATA_DIR/runserver.log
SERVER_PID=""

cleanup() {
	local status=$?
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait_for_exit "$SERVER_PID" 10 || kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	if [[ $status -ne 0 && $status -ne 1 ]]; then
		show_log_tail "$SERVER_LOG"
		printf 'lighthouse: FAILED (data kept in %s)\n' "$DATA_DIR" >&2
	else
		rm -rf "$DATA_DIR"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

manage() { (cd "$CLOUDSHELF_ROOT" && "$PY" manage.py "$@"); }

info "DATA_DIR=$DATA_DIR: migrate, seed 60 books, collectstatic"
manage migrate --no-input -v 0 || die "manage.py migrate failed"
manage seed_catalog --books 60 --seed 3 >/dev/null || die "manage.py seed_catalog failed"
manage collectstatic --no-input -v 0 || die "manage.py collectstatic failed"

# A free port from the kernel, so the run never collides with a server already up.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
info "runserver 127.0.0.1:$PORT"
(cd "$CLOUDSHELF_ROOT" && exec "$PY" manage.py runserver "127.0.0.1:$PORT" --noreload) >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
for ((i = 0; i < 120; i++)); do
	kill -0 "$SERVER_PID" 2>/dev/null || die "runserver exited before answering"
	curl -s -o /dev/null --max-time 1 "$BASE/health" && break
	sleep 0.25
done

(cd "$CLOUDSHELF_ROOT" && "$PY" -m bench.lighthouse --base-url "$BASE" "$@")
