#!/usr/bin/env bash
# Command-line tools the project's targets need, installed from Debian's packages when
# missing (like Postgres and Redis in their scripts), so a fresh machine needs no manual step.
#
#   scripts/tools.sh wrk        the closed-loop HTTP benchmarking tool (`make bench` needs it)
#   scripts/tools.sh check wrk  exit 0 when the tool is on PATH, 3 when it is not (installs nothing)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# tool name -> Debian package that provides it
declare -A PACKAGES=([wrk]=wrk)

usage() {
	printf 'usage: %s TOOL... | check TOOL...\n  tools: %s\n' "$0" "${!PACKAGES[*]}" >&2
	exit 2
}

require_known() {
	[[ -n ${PACKAGES[$1]:-} ]] || die "unknown tool '$1' (known: ${!PACKAGES[*]})"
}

install_tool() {
	local tool=$1
	require_known "$tool"
	command -v "$tool" >/dev/null && return 0
	info "$tool not found; installing Debian package ${PACKAGES[$tool]}"
	apt_install "${PACKAGES[$tool]}"
	command -v "$tool" >/dev/null || die "installed ${PACKAGES[$tool]} but $tool is still not on PATH"
	info "$tool installed: $(command -v "$tool")"
}

[[ $# -ge 1 ]] || usage
if [[ $1 == check ]]; then
	shift
	[[ $# -ge 1 ]] || usage
	for tool in "$@"; do
		require_known "$tool"
		command -v "$tool" >/dev/null || exit 3
	done
	exit 0
fi
for tool in "$@"; do
	install_tool "$tool"
done
