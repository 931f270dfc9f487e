#!/usr/bin/env bash
# Command-line tools the project's targets need, installed from Debian's packages when
# missing (like Postgres and Redis in their scripts), so a fresh machine needs no manual step.
#
#   scripts/tools.sh wrk        the closed-loop HTTP benchmarking tool (`make bench` needs it)
#   scripts/tools.sh chromium   Debian's Chromium (the browser `make lighthouse` audits with)
#   scripts/tools.sh lighthouse Lighthouse from the npm registry, pinned (LIGHTHOUSE_VERSION), into
#                               var/tools/lighthouse; never a browser of its own (Debian's Chromium)
#   scripts/tools.sh artillery  Artillery from the npm registry, pinned with its whole tree by
#                               loadtest/package-lock.json, into var/tools/artillery (`make loadtest`);
#                               never a browser (its Playwright engine is unused here)
#   scripts/tools.sh cdk        the AWS CDK command line from the npm registry, pinned with its tree by
#                               infra/package.json and package-lock.json, into infra/node_modules
#                               (`make synth`); telemetry off
#   scripts/tools.sh check wrk  exit 0 when the tool is installed, 3 when it is not (installs nothing)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# tool name -> Debian package that provides it
declare -A PACKAGES=([wrk]=wrk [chromium]=chromium [lighthouse]=nodejs [artillery]=nodejs [cdk]=nodejs)

# Lighthouse 12 is the last line that runs on Debian 12's Node 18/20 (13 needs Node 22).
LIGHTHOUSE_VERSION=${LIGHTHOUSE_VERSION:-12.8.2}
LIGHTHOUSE_DIR=$VAR_DIR/tools/lighthouse
LIGHTHOUSE_BIN=$LIGHTHOUSE_DIR/node_modules/.bin/lighthouse

# Artillery 2.0.21 is the last release whose engines field accepts Node 20 (2.0.22 on need >= 22.13).
# The version and every dependency are pinned by loadtest/package.json and package-lock.json,
# which `npm ci` installs exactly; an edited lock file installs again.
ARTILLERY_VERSION=2.0.21
ARTILLERY_SOURCE=$CLOUDSHELF_ROOT/loadtest
ARTILLERY_DIR=$VAR_DIR/tools/artillery
ARTILLERY_BIN=$ARTILLERY_DIR/node_modules/.bin/artillery

# The aws-cdk CLI: the version infra/package.json pins (its lock pins the tree), installed in place
# by `npm ci` so `cdk` runs from infra/ with cdk.json beside it. It must read the cloud assembly
# schema of the aws-cdk-lib in requirements-dev.txt (a newer CLI always does).
CDK_DIR=$CLOUDSHELF_ROOT/infra
CDK_BIN=$CDK_DIR/node_modules/.bin/cdk
CDK_VERSION=$(sed -n 's/^ *"aws-cdk": *"\([0-9.]*\)".*/\1/p' "$CDK_DIR/package.json")
export CDK_DISABLE_CLI_TELEMETRY=true

usage() {
	printf 'usage: %s TOOL... | check TOOL...\n  tools: %s\n' "$0" "${!PACKAGES[*]}" >&2
	exit 2
}

require_known() {
	[[ -n ${PACKAGES[$1]:-} ]] || die "unknown tool '$1' (known: ${!PACKAGES[*]})"
}

# The installed Lighthouse's version, empty when there is none.
lighthouse_version() {
	[[ -x $LIGHTHOUSE_BIN ]] && "$LIGHTHOUSE_BIN" --version 2>/dev/null || true
}

# The installed Artillery's version, empty when there is none.
artillery_version() {
	[[ -x $ARTILLERY_BIN ]] && "$ARTILLERY_BIN" --version 2>/dev/null | sed -n 's/^Artillery: *//p' || true
}

# The installed CDK CLI's version, empty when there is none.
cdk_version() {
	[[ -x $CDK_BIN ]] && "$CDK_BIN" --version 2>/dev/null | sed -n 's/^\([0-9][0-9.]*\).*/\1/p' || true
}

is_installed() {
	case $1 in
	lighthouse) [[ "$(lighthouse_version)" == "$LIGHTHOUSE_VERSION" ]] ;;
	artillery)
		cmp -s "$ARTILLERY_SOURCE/package-lock.json" "$ARTILLERY_DIR/package-lock.json" &&
			[[ "$(artillery_version)" == "$ARTILLERY_VERSION" ]]
		;;
	cdk)
		[[ -n $CDK_VERSION && "$(cdk_version)" == "$CDK_VERSION" ]] &&
			cmp -s "$CDK_DIR/package-lock.json" "$CDK_DIR/node_modules/.cloudshelf-package-lock.json"
		;;
	*) command -v "$1" >/dev/null ;;
	esac
}

install_lighthouse() {
	command -v npm >/dev/null || apt_install nodejs npm
	info "installing lighthouse@$LIGHTHOUSE_VERSION into $LIGHTHOUSE_DIR (no browser download)"
	mkdir -p "$LIGHTHOUSE_DIR"
	# PUPPETEER_SKIP_DOWNLOAD: Lighthouse drives Debian's Chromium (CHROME_PATH), never its own.
	(cd "$LIGHTHOUSE_DIR" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error \
		--save-exact "lighthouse@$LIGHTHOUSE_VERSION")
	is_installed lighthouse || die "installed lighthouse@$LIGHTHOUSE_VERSION but $LIGHTHOUSE_BIN does not report it"
	info "lighthouse installed: $LIGHTHOUSE_BIN ($(lighthouse_version))"
}

install_artillery() {
	command -v npm >/dev/null || apt_install nodejs npm
	info "installing artillery@$ARTILLERY_VERSION into $ARTILLERY_DIR from loadtest/package-lock.json (no browser download)"
	mkdir -p "$ARTILLERY_DIR"
	cp "$ARTILLERY_SOURCE/package.json" "$ARTILLERY_SOURCE/package-lock.json" "$ARTILLERY_DIR/"
	# Artillery depends on its Playwright engine; neither Playwright nor Puppeteer may fetch a browser.
	(cd "$ARTILLERY_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
		npm ci --no-audit --no-fund --loglevel=error)
	is_installed artillery || die "installed artillery@$ARTILLERY_VERSION but $ARTILLERY_BIN does not report it"
	info "artillery installed: $ARTILLERY_BIN ($(artillery_version))"
}

install_cdk() {
	command -v npm >/dev/null || apt_install nodejs npm
	[[ -n $CDK_VERSION ]] || die "infra/package.json pins no aws-cdk version"
	info "installing aws-cdk@$CDK_VERSION into $CDK_DIR/node_modules from infra/package-lock.json"
	(cd "$CDK_DIR" && npm ci --no-audit --no-fund --loglevel=error)
	# the lock this tree was installed from: an edited lock file installs again
	cp "$CDK_DIR/package-lock.json" "$CDK_DIR/node_modules/.cloudshelf-package-lock.json"
	is_installed cdk || die "installed aws-cdk@$CDK_VERSION but $CDK_BIN does not report it"
	info "cdk installed: $CDK_BIN ($(cdk_version))"
}

install_tool() {
	local tool=$1
	require_known "$tool"
	is_installed "$tool" && return 0
	if [[ $tool == lighthouse ]]; then
		install_lighthouse
		return 0
	fi
	if [[ $tool == artillery ]]; then
		install_artillery
		return 0
	fi
	if [[ $tool == cdk ]]; then
		install_cdk
		return 0
	fi
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
		is_installed "$tool" || exit 3
	done
	exit 0
fi
for tool in "$@"; do
	install_tool "$tool"
done
