#!/usr/bin/env bash
# Screenshots of the staff report pages for the README: docs/screenshots/performance.png (and
# sales.png), taken in Debian's Chromium against the embedded default in a fresh DATA_DIR on
# a free loopback port (like scripts/lighthouse.sh: no shared port, no shared service).
#
# It seeds a small catalog and a year of shop activity (seed_analytics), sends the server real
# requests of every route class and stores a day of real-user beacons (bench/screenshot_reports.py),
# then hands the browser a staff session as a cookie (puppeteer-core over the DevTools protocol).
#
#   scripts/screenshot_reports.sh [OUT_DIR]     default docs/screenshots
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT_DIR=$(realpath -m "${1:-$CLOUDSHELF_ROOT/docs/screenshots}")
PUPPETEER=$VAR_DIR/tools/lighthouse/node_modules/puppeteer-core

"$CLOUDSHELF_ROOT/scripts/tools.sh" chromium lighthouse
export CHROME_PATH=${CHROME_PATH:-$(command -v chromium)}

embedded_prepare screenshots

cleanup() {
	local status=$?
	embedded_server_stop
	if [[ $status -ne 0 ]]; then
		show_log_tail "$SERVER_LOG"
		printf 'screenshots: FAILED (data kept in %s)\n' "$DATA_DIR" >&2
	else
		rm -rf "$DATA_DIR"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

manage() { embedded_manage "$@"; }

info "DATA_DIR=$DATA_DIR: migrate, seed 400 books and a year of activity, collectstatic"
manage migrate --no-input -v 0 || die "manage.py migrate failed"
manage seed_catalog --books 400 --seed 3 >/dev/null || die "manage.py seed_catalog failed"
manage seed_analytics --days 365 --seed 1 --orders-per-day 40 -v 0 || die "manage.py seed_analytics failed"
manage collectstatic --no-input -v 0 || die "manage.py collectstatic failed"

embedded_server_start

read -r COOKIE_NAME COOKIE_VALUE < <(cd "$CLOUDSHELF_ROOT" && "$PY" -m bench.screenshot_reports --base-url "$BASE")
mkdir -p "$OUT_DIR"
node "$CLOUDSHELF_ROOT/scripts/screenshot_reports.cjs" "$PUPPETEER" "$BASE" "$COOKIE_NAME" "$COOKIE_VALUE" "$OUT_DIR"
