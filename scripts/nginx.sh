#!/usr/bin/env bash
# The shared HTTP cache in front of gunicorn: our own nginx master for this checkout,
# listening only on 127.0.0.1:$NGINX_PORT (default 8080) and proxying to $GUNICORN_BIND,
# with config, cache, temp files, pid file, logs and its error pages (the site-styled
# pages for what nginx refuses itself, from scripts/nginx/error-page.html) in var/nginx
# (docs/http-cache.md).
#
#   scripts/nginx.sh install   apt-get install nginx and its brotli and cache-purge modules when missing
#   scripts/nginx.sh start     install if needed, render the config, test it, start, wait until it answers
#   scripts/nginx.sh reload    render and test the config again, then a graceful reload (HUP)
#   scripts/nginx.sh stop      graceful shutdown (QUIT) and wait for the master to exit
#   scripts/nginx.sh status    exit 0 when it answers, 3 when it is stopped
#
# Nothing under /etc/nginx is read or changed (the config is rendered from
# scripts/nginx/nginx.conf.template on every start) and the Debian service is never used:
# its port 80 and /var/cache/nginx would be shared by every checkout.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NGINX_BIN=${NGINX_BIN:-/usr/sbin/nginx}
MODULES_DIR=/usr/lib/nginx/modules
MODULES=(ngx_http_brotli_filter_module.so ngx_http_cache_purge_module.so)
TEMPLATE=$CLOUDSHELF_ROOT/scripts/nginx/nginx.conf.template
# Workers drop to this user when the master runs as root; they read and write the cache.
: "${NGINX_USER:=www-data}"
: "${NGINX_WORKERS:=auto}"
: "${NGINX_CACHE_MAX_SIZE:=1g}"
# How long an entry nobody asks for stays on disk; it bounds how long a stale page can be
# served while the origin is down (stale-if-error), so keep it at least that long.
: "${NGINX_CACHE_INACTIVE:=2d}"

ERROR_PAGE_TEMPLATE=$CLOUDSHELF_ROOT/scripts/nginx/error-page.html
LOGO=$CLOUDSHELF_ROOT/templates/includes/logo.svg
CONF=$NGINX_DIR/nginx.conf
PIDFILE=$NGINX_DIR/nginx.pid
LOGFILE=$NGINX_DIR/logs/error.log
ACCESS_LOG=$NGINX_DIR/logs/access.log
CACHE_DIR=$NGINX_DIR/cache
TEMP_DIR=$NGINX_DIR/tmp
START_TIMEOUT=15

modules_installed() {
	local module
	for module in "${MODULES[@]}"; do
		[[ -f $MODULES_DIR/$module ]] || return 1
	done
}

cmd_install() {
	[[ -x $NGINX_BIN ]] && modules_installed && return 0
	info "nginx or its brotli/cache-purge modules not found; installing"
	apt_install nginx libnginx-mod-http-brotli-filter libnginx-mod-http-cache-purge
	[[ -x $NGINX_BIN ]] || die "installed nginx but $NGINX_BIN is still missing"
	modules_installed || die "installed the modules but ${MODULES[*]} are not all in $MODULES_DIR"
}

# Bad settings stop here with a sentence, not in the middle of a half-written config.
validate_settings() {
	[[ $NGINX_PORT =~ ^[0-9]{1,5}$ ]] && ((NGINX_PORT >= 1 && NGINX_PORT <= 65535)) ||
		die "NGINX_PORT=$NGINX_PORT is not a port number (1-65535)"
	[[ $GUNICORN_BIND =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ]] ||
		die "GUNICORN_BIND=$GUNICORN_BIND is not host:port (a unix socket is not supported as nginx's upstream here)"
	local upstream_port=${GUNICORN_BIND##*:}
	((upstream_port >= 1 && upstream_port <= 65535)) || die "GUNICORN_BIND=$GUNICORN_BIND has no valid port"
	[[ $NGINX_WORKERS == auto || $NGINX_WORKERS =~ ^[1-9][0-9]?$ ]] ||
		die "NGINX_WORKERS=$NGINX_WORKERS must be 'auto' or a number from 1 to 99"
	[[ $NGINX_CACHE_MAX_SIZE =~ ^[1-9][0-9]*[kKmMgG]?$ ]] ||
		die "NGINX_CACHE_MAX_SIZE=$NGINX_CACHE_MAX_SIZE must be a size such as 512m or 1g"
	[[ $NGINX_CACHE_INACTIVE =~ ^[1-9][0-9]*[smhd]$ ]] ||
		die "NGINX_CACHE_INACTIVE=$NGINX_CACHE_INACTIVE must be a duration such as 12h or 2d"
	# nginx's config syntax would split a path at a space or a semicolon.
	[[ $NGINX_DIR =~ ^/[A-Za-z0-9._/+-]+$ ]] ||
		die "NGINX_DIR=$NGINX_DIR must be an absolute path of letters, digits and ._/+- only"
	if [[ $EUID -eq 0 ]]; then
		id -u "$NGINX_USER" >/dev/null 2>&1 || die "NGINX_USER=$NGINX_USER does not exist"
	fi
}

# The workers run as $NGINX_USER and must walk down to the cache; grant traverse-only
# (o+x, not read) where a parent directory is closed, as scripts/postgres.sh does.
ensure_traversable() {
	local path=$1 dir="" part
	local IFS=/
	for part in ${path#/}; do
		dir="$dir/$part"
		if ! runuser -u "$NGINX_USER" -- test -x "$dir"; then
			info "granting traverse permission (o+x) on $dir so $NGINX_USER can reach $CACHE_DIR"
			chmod o+x "$dir"
		fi
	done
}

prepare_dirs() {
	mkdir -p "$NGINX_DIR/logs" "$CACHE_DIR" "$TEMP_DIR"/{client_body,proxy,fastcgi,uwsgi,scgi}
	if [[ $EUID -eq 0 ]]; then
		ensure_traversable "$NGINX_DIR"
		chown -R "$NGINX_USER:" "$CACHE_DIR" "$TEMP_DIR"
		chmod 700 "$CACHE_DIR" "$TEMP_DIR"
	fi
}

# Rewritten on every start and reload, so a changed port or template takes effect.
write_config() {
	local config user_line="" module_lines="" module
	config=$(<"$TEMPLATE")
	# Only a root master can switch users; otherwise the workers run as the caller.
	[[ $EUID -eq 0 ]] && user_line="user $NGINX_USER;"
	for module in "${MODULES[@]}"; do
		module_lines+="load_module $MODULES_DIR/$module;"$'\n'
	done
	config=${config//@LOAD_MODULES@/$module_lines}
	config=${config//@USER_LINE@/$user_line}
	config=${config//@WORKERS@/$NGINX_WORKERS}
	config=${config//@NGINX_DIR@/$NGINX_DIR}
	config=${config//@PIDFILE@/$PIDFILE}
	config=${config//@ERROR_LOG@/$LOGFILE}
	config=${config//@ACCESS_LOG@/$ACCESS_LOG}
	config=${config//@CACHE_DIR@/$CACHE_DIR}
	config=${config//@TEMP_DIR@/$TEMP_DIR}
	config=${config//@CACHE_MAX_SIZE@/$NGINX_CACHE_MAX_SIZE}
	config=${config//@CACHE_INACTIVE@/$NGINX_CACHE_INACTIVE}
	config=${config//@NGINX_PORT@/$NGINX_PORT}
	config=${config//@UPSTREAM@/$GUNICORN_BIND}
	config=${config//@ERRORS_DIR@/$NGINX_DIR/errors}
	if [[ $config =~ @[A-Z_]+@ ]]; then
		die "the template still has a placeholder ${BASH_REMATCH[0]} after rendering; fix scripts/nginx.sh"
	fi
	printf '%s\n' "$config" >"$CONF.new"
	mv "$CONF.new" "$CONF"
}

# The site-styled pages nginx answers with when it refuses a request itself (the
# template's error_page lines): one per status, from one skeleton, written beside the config.
write_error_pages() {
	local skeleton logo page code title message
	# Bash 5.2 would read an "&" in a replacement as the matched text; take texts literally.
	shopt -u patsub_replacement 2>/dev/null || true
	skeleton=$(<"$ERROR_PAGE_TEMPLATE")
	logo=$(<"$LOGO")
	mkdir -p "$NGINX_DIR/errors"
	while IFS='|' read -r code title message; do
		page=${skeleton//@LOGO@/$logo}
		page=${page//@CODE@/$code}
		page=${page//@TITLE@/$title}
		page=${page//@MESSAGE@/$message}
		printf '%s\n' "$page" >"$NGINX_DIR/errors/$code.html.new"
		mv "$NGINX_DIR/errors/$code.html.new" "$NGINX_DIR/errors/$code.html"
	done <<-'PAGES'
		400|We could not read that request|Your browser sent something this site cannot read, often an unusually large cookie. Clearing this site’s cookies usually fixes it.
		413|That is more than we can accept|What you sent is larger than this site takes in one go.
		414|That link is too long|The address is longer than we can read. If it was a search, try it with fewer words.
		502|CloudShelf is taking a short break|We could not load this page just now. Please try again in a minute.
	PAGES
}

# -p, -c and -e keep nginx away from its compiled-in /etc/nginx and /var/log/nginx paths.
run_nginx() {
	"$NGINX_BIN" -p "$NGINX_DIR/" -c "$CONF" -e "$LOGFILE" "$@"
}

test_config() {
	local output
	output=$(run_nginx -t -q 2>&1) || die "nginx rejected $CONF:
$output"
}

# Any HTTP status means nginx answers; 502 only says gunicorn is not up (yet).
http_status() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$NGINX_PORT$1" || true
}

check_port_free() {
	is_port_listening "$NGINX_PORT" || return 0
	local pid owner
	pid=$(listening_pid "$NGINX_PORT")
	owner=${pid:+$(describe_pid "$pid")}
	die "port $NGINX_PORT is already in use by ${owner:-another process}.
  If that is another checkout's nginx, stop it there (cd <that checkout> && scripts/nginx.sh stop)
  or give this checkout another port, e.g. NGINX_PORT=8081 make up"
}

cmd_start() {
	cmd_install
	validate_settings
	local pid i status
	if pid=$(live_pid_from_file "$PIDFILE"); then
		if [[ "$(http_status /)" != 000 ]]; then
			info "already running on 127.0.0.1:$NGINX_PORT (pid $pid)"
			return 0
		fi
		die "this checkout's nginx (pid $pid) runs but does not answer on port $NGINX_PORT; run scripts/nginx.sh stop first"
	fi
	check_port_free
	prepare_dirs
	write_error_pages
	write_config
	test_config
	info "starting nginx on 127.0.0.1:$NGINX_PORT in front of $GUNICORN_BIND (logs: $NGINX_DIR/logs)"
	run_nginx || {
		show_log_tail "$LOGFILE"
		die "nginx failed to start"
	}
	for ((i = 0; i < START_TIMEOUT * 10; i++)); do
		status=$(http_status /health)
		if [[ $status != 000 ]]; then
			if [[ $status == 200 ]]; then
				info "ready: http://127.0.0.1:$NGINX_PORT/ (gunicorn answers through it)"
			else
				info "ready: http://127.0.0.1:$NGINX_PORT/ (gunicorn at $GUNICORN_BIND answered /health with $status)"
			fi
			return 0
		fi
		sleep 0.1
	done
	show_log_tail "$LOGFILE"
	die "nginx did not answer on 127.0.0.1:$NGINX_PORT within ${START_TIMEOUT}s"
}

cmd_reload() {
	validate_settings
	local pid
	pid=$(live_pid_from_file "$PIDFILE") || die "not running ($NGINX_DIR); use scripts/nginx.sh start"
	prepare_dirs
	write_error_pages
	write_config
	test_config
	info "reloading nginx (pid $pid)"
	# HUP: the master reads the new config, starts new workers, and old workers finish
	# their requests first; a config it cannot load leaves the old one running.
	kill -HUP "$pid"
}

cmd_stop() {
	local pid
	if ! pid=$(live_pid_from_file "$PIDFILE"); then
		info "not running ($NGINX_DIR)"
		rm -f "$PIDFILE"
		return 0
	fi
	info "stopping nginx (pid $pid)"
	# QUIT lets workers finish the requests in flight; TERM only if that takes too long.
	kill -QUIT "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" 20; then
		info "nginx (pid $pid) still running after 20s; sending TERM"
		kill -TERM "$pid" 2>/dev/null || true
		wait_for_exit "$pid" 10 || die "nginx (pid $pid) did not exit"
	fi
	rm -f "$PIDFILE"
	info "stopped"
}

cmd_status() {
	local pid status
	if pid=$(live_pid_from_file "$PIDFILE"); then
		status=$(http_status /health)
		if [[ $status != 000 ]]; then
			info "running on 127.0.0.1:$NGINX_PORT (pid $pid) in front of $GUNICORN_BIND (/health through it: $status)"
			return 0
		fi
		info "running (pid $pid) but not answering on 127.0.0.1:$NGINX_PORT"
		exit 1
	fi
	info "stopped ($NGINX_DIR)"
	exit 3
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
reload) cmd_reload ;;
status) cmd_status ;;
*)
	echo "usage: $0 {install|start|stop|reload|status}" >&2
	exit 2
	;;
esac
