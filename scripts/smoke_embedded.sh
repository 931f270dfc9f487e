#!/usr/bin/env bash
# Smoke test of the embedded default — what `make run` serves with nothing configured:
# SQLite and the in-process cache in a fresh DATA_DIR, no Postgres, Redis or OpenSearch.
# Migrates, seeds a small catalog, collects static files, starts runserver on a free
# loopback port and fetches /health, /health/ready, / and the first book page.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

embedded_prepare smoke

cleanup() {
	local status=$?
	embedded_server_stop
	if [[ $status -ne 0 ]]; then
		[[ -n $SERVER_PID ]] && show_log_tail "$SERVER_LOG"
		printf 'smoke_embedded: FAILED (data kept in %s)\n' "$DATA_DIR" >&2
	else
		rm -rf "$DATA_DIR"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { info "$*"; }
manage() { embedded_manage "$@"; }

step "DATA_DIR=$DATA_DIR"
step "migrate"
manage migrate --no-input -v 0 || die "manage.py migrate failed"
step "seed_catalog --books 40 --seed 3"
manage seed_catalog --books 40 --seed 3 || die "manage.py seed_catalog failed"
step "collectstatic"
manage collectstatic --no-input -v 0 || die "manage.py collectstatic failed"

embedded_server_start

BODY=$DATA_DIR/body
# fetch <path> <expected status>: leaves the response body in $BODY.
fetch() {
	local path=$1 expected=$2 code
	code=$(curl -s -o "$BODY" -w '%{http_code}' --max-time 10 "$BASE$path") || code="no answer"
	[[ $code == "$expected" ]] || die "GET $path answered $code, expected $expected"
	step "GET $path -> $code"
}

fetch /health 200
[[ "$(<"$BODY")" == ok ]] || die "GET /health answered '$(head -c 200 "$BODY")', expected 'ok'"
fetch /health/ready 200
fetch / 200
grep -q CloudShelf "$BODY" || die "the home page does not mention CloudShelf"
# A book page, not the /books/ listing itself (nor /books/?sort=...): something after the slash.
BOOK_PATH=$(grep -oE 'href="/books/[^"?#]+"' "$BODY" | head -n 1 | sed 's/^href="//; s/"$//' || true)
[[ -n $BOOK_PATH ]] || die "the home page links no book page (no href=\"/books/<isbn>/...\")"
fetch "$BOOK_PATH" 200
fetch /books/ 200
grep -q 'class="book-card"' "$BODY" || die "the /books/ listing shows no book cards"
# Search on the embedded default: the database answers (no OpenSearch), cards and all.
fetch "/search/?q=the" 200
grep -q 'class="book-card"' "$BODY" || die "a search for \"the\" shows no book cards"

info "OK: the embedded default serves the shop"
