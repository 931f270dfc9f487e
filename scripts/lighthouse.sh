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

"$CLOUDSHELF_ROOT/scripts/tools.sh" chromium lighthouse
export CHROME_PATH=${CHROME_PATH:-$(command -v chromium)}

embedded_prepare lighthouse

cleanup() {
	local status=$?
	embedded_server_stop
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

manage() { embedded_manage "$@"; }

info "DATA_DIR=$DATA_DIR: migrate, seed 60 books, collectstatic"
manage migrate --no-input -v 0 || die "manage.py migrate failed"
manage seed_catalog --books 60 --seed 3 >/dev/null || die "manage.py seed_catalog failed"
manage collectstatic --no-input -v 0 || die "manage.py collectstatic failed"

embedded_server_start

(cd "$CLOUDSHELF_ROOT" && "$PY" -m bench.lighthouse --base-url "$BASE" "$@")
