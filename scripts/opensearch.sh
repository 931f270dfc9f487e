#!/usr/bin/env bash
# Our own OpenSearch node for this checkout: the search index (books, autocomplete, facets)
# for local development and tests, a single node listening only on
# 127.0.0.1:$OPENSEARCH_PORT (default 59200; transport 59300), plain HTTP, with home,
# config, data and logs in var/opensearch.
#
#   scripts/opensearch.sh install   download once (verified, into the cache), unpack, lay out modules
#   scripts/opensearch.sh start     install if needed, start daemonized, wait for yellow health
#   scripts/opensearch.sh stop      shut down and wait for the process to exit
#   scripts/opensearch.sh status    exit 0 when the cluster answers yellow or green, 3 when stopped
#
# OpenSearch 2.19.6 from Maven Central (no Docker here; CI machines reach only package
# registries): the plain distribution plus analysis-common, lang-painless, mapper-extras and
# reindex laid out by hand as modules (scripts/opensearch/). Downloads are verified and
# cached in $CLOUDSHELF_CACHE_DIR (default ~/.cache/cloudshelf), which `make clean` keeps.
# The heap is sized from the machine on every start (scripts/opensearch/heap.sh, printed
# with its reason); OPENSEARCH_HEAP=2g overrides. See docs/opensearch.md and
# docs/search-scaling.md.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/opensearch/heap.sh
source "$(dirname "${BASH_SOURCE[0]}")/opensearch/heap.sh"

# Must match every org.opensearch line of scripts/opensearch/artifacts.txt.
OPENSEARCH_VERSION=2.19.6
# OpenSearch refuses to run as root, so the node belongs to this system user.
OS_USER=opensearch
START_TIMEOUT=120
STOP_TIMEOUT=60
CLUSTER_NAME=cloudshelf

SUPPORT_DIR=$CLOUDSHELF_ROOT/scripts/opensearch
MANIFEST=$SUPPORT_DIR/artifacts.txt
CACHE_DIR=$CLOUDSHELF_CACHE_DIR/maven
NODE_HOME=$OPENSEARCH_DIR/home
CONF_DIR=$OPENSEARCH_DIR/config
DATA_DIR=$OPENSEARCH_DIR/data
LOGS_DIR=$OPENSEARCH_DIR/logs
TMP_DIR=$OPENSEARCH_DIR/tmp
# The snapshot repository of type fs (path.repo): search index backups (docs/opensearch.md).
SNAPSHOTS_DIR=$OPENSEARCH_DIR/snapshots
PIDFILE=$OPENSEARCH_DIR/opensearch.pid
LOGFILE=$LOGS_DIR/$CLUSTER_NAME.log
# What bin/opensearch and the JVM print before the node's own logging takes over.
STARTUP_LOG=$LOGS_DIR/startup.log
# Written last by install: which manifest and module files the home was built from.
STAMP=$NODE_HOME/.cloudshelf-install

# ---------------------------------------------------------------------------------------
# Install: download, verify, unpack, lay out the modules

need_tools() {
	local missing=()
	command -v curl >/dev/null || missing+=(curl ca-certificates)
	command -v unzip >/dev/null || missing+=(unzip)
	command -v flock >/dev/null || missing+=(util-linux)
	((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

sha1_of() { sha1sum "$1" | cut -d' ' -f1; }

# One install/start/stop at a time per checkout (make -j, two terminals).
LOCKED=0
take_lock() {
	((LOCKED == 0)) || return 0
	mkdir -p "$OPENSEARCH_DIR"
	exec 9>"$OPENSEARCH_DIR/.lock"
	flock -w 300 9 || die "another scripts/opensearch.sh still holds $OPENSEARCH_DIR/.lock after 300s"
	LOCKED=1
}

# A fingerprint of everything the home is built from, so a changed version, artifact or
# descriptor rebuilds it on the next start (paths are relative: the same in every checkout).
install_fingerprint() {
	(
		cd "$SUPPORT_DIR"
		echo "$OPENSEARCH_VERSION"
		find artifacts.txt modules -type f | LC_ALL=C sort | xargs sha1sum
	) | sha1sum | cut -d' ' -f1
}

is_installed() {
	[[ -f $STAMP && -x $NODE_HOME/bin/opensearch && "$(<"$STAMP")" == "$(install_fingerprint)" ]]
}

# Read the manifest into ART_* arrays: destination, coordinates, pinned SHA-1, cache path, URL.
read_manifest() {
	ART_DEST=() ART_COORD=() ART_SHA1=() ART_FILE=() ART_URL=()
	local dest coord sha1 extra group artifact version ext rel
	while read -r dest coord sha1 extra; do
		[[ -z $dest || $dest == \#* ]] && continue
		IFS=: read -r group artifact version ext <<<"$coord"
		[[ -n $group && -n $artifact && -n $version && -z $extra ]] || die "$MANIFEST: cannot read the line for '$dest $coord'"
		[[ $sha1 =~ ^[0-9a-f]{40}$ ]] || die "$MANIFEST: no SHA-1 on the line for $coord"
		if [[ $group == org.opensearch* && $version != "$OPENSEARCH_VERSION" ]]; then
			die "$MANIFEST: $coord is not OPENSEARCH_VERSION=$OPENSEARCH_VERSION (scripts/opensearch.sh)"
		fi
		rel=${group//.//}/$artifact/$version/$artifact-$version.${ext:-jar}
		ART_DEST+=("$dest") ART_COORD+=("$coord") ART_SHA1+=("$sha1")
		ART_FILE+=("$CACHE_DIR/$rel") ART_URL+=("${MAVEN_REPO_URL%/}/$rel")
	done <"$MANIFEST"
	[[ " ${ART_DEST[*]} " == *" dist "* ]] || die "$MANIFEST: no 'dist' line (the distribution zip)"
}

# Bring every artifact into the cache. Whatever is missing (or fails its pinned SHA-1, e.g.
# a truncated earlier download) is fetched in one parallel curl together with the .sha1
# Maven Central publishes beside it (and the .sha512 of the distribution zip); a file only
# enters the cache when the pinned, the published and the computed checksums all agree.
fetch_artifacts() {
	local i todo=() args=()
	for i in "${!ART_FILE[@]}"; do
		if [[ -f ${ART_FILE[i]} ]] && [[ "$(sha1_of "${ART_FILE[i]}")" == "${ART_SHA1[i]}" ]]; then
			continue
		fi
		todo+=("$i")
	done
	((${#todo[@]} > 0)) || return 0

	mkdir -p "$CACHE_DIR"
	local stage
	stage=$(mktemp -d "$CACHE_DIR/.download.XXXXXX")
	# shellcheck disable=SC2064 # expand now: $stage is local
	trap "rm -rf '$stage'" EXIT
	for i in "${todo[@]}"; do
		args+=(-o "$stage/$i.bin" "${ART_URL[i]}" -o "$stage/$i.sha1" "${ART_URL[i]}.sha1")
		[[ ${ART_DEST[i]} == dist ]] && args+=(-o "$stage/$i.sha512" "${ART_URL[i]}.sha512")
	done
	info "downloading ${#todo[@]} artifact(s) from $MAVEN_REPO_URL into $CACHE_DIR"
	local started=$SECONDS
	curl --fail --silent --show-error --no-progress-meter --location --parallel --parallel-max 8 \
		--retry 3 --retry-delay 2 --connect-timeout 20 --max-time 900 "${args[@]}" ||
		die "download from $MAVEN_REPO_URL failed (curl exit $?); is Maven Central reachable? (set MAVEN_REPO_URL to use a mirror)"

	local published actual expected
	for i in "${todo[@]}"; do
		expected=${ART_SHA1[i]}
		[[ -s $stage/$i.bin && -s $stage/$i.sha1 ]] || die "download of ${ART_COORD[i]} is incomplete"
		published=$(head -c 40 "$stage/$i.sha1")
		[[ $published == "$expected" ]] ||
			die "Maven Central publishes SHA-1 $published for ${ART_COORD[i]}, but $MANIFEST pins $expected"
		actual=$(sha1_of "$stage/$i.bin")
		[[ $actual == "$expected" ]] ||
			die "downloaded ${ART_COORD[i]} has SHA-1 $actual, expected $expected (corrupt download? run again)"
		if [[ -f $stage/$i.sha512 ]]; then
			published=$(head -c 128 "$stage/$i.sha512")
			actual=$(sha512sum "$stage/$i.bin" | cut -d' ' -f1)
			[[ $actual == "$published" ]] || die "downloaded ${ART_COORD[i]} fails its published SHA-512"
		fi
		mkdir -p "$(dirname "${ART_FILE[i]}")"
		mv -f "$stage/$i.bin" "${ART_FILE[i]}"
	done
	rm -rf "$stage"
	trap - EXIT
	info "downloaded and verified ${#todo[@]} artifact(s) in $((SECONDS - started))s"
}

ensure_os_user() {
	id -u "$OS_USER" >/dev/null 2>&1 && return 0
	info "creating system user $OS_USER"
	useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$OS_USER"
}

# Run a command as the opensearch user from /, so it never trips over an unreadable cwd.
as_opensearch() {
	(cd / && runuser -u "$OS_USER" -- "$@")
}

# The opensearch user must be able to walk down to var/opensearch. A clone under a private
# home directory (mode 700) would block it, so grant traverse-only (o+x, not read) where missing.
ensure_traversable() {
	local path=$1 dir="" part
	local IFS=/
	for part in ${path#/}; do
		dir="$dir/$part"
		if ! as_opensearch test -x "$dir"; then
			info "granting traverse permission (o+x) on $dir so the $OS_USER user can reach $path"
			chmod o+x "$dir"
		fi
	done
}

# Build the node's home in a staging folder and swap it in: the distribution's zip, then
# one folder per module under modules/ with its jars and our descriptor (and policy).
build_home() {
	local stage=$OPENSEARCH_DIR/home.new unpack=$OPENSEARCH_DIR/home.unzip i dest template
	rm -rf "$stage" "$unpack"
	for i in "${!ART_DEST[@]}"; do
		[[ ${ART_DEST[i]} == dist ]] || continue
		unzip -q "${ART_FILE[i]}" -d "$unpack"
		mv "$unpack/opensearch-$OPENSEARCH_VERSION" "$stage"
		rm -rf "$unpack"
	done
	[[ -x $stage/bin/opensearch ]] || die "the distribution zip has no opensearch-$OPENSEARCH_VERSION/bin/opensearch"
	for i in "${!ART_DEST[@]}"; do
		dest=${ART_DEST[i]}
		[[ $dest == dist ]] && continue
		[[ -f $SUPPORT_DIR/modules/$dest/plugin-descriptor.properties ]] ||
			die "no scripts/opensearch/modules/$dest/plugin-descriptor.properties for module $dest"
		mkdir -p "$stage/modules/$dest"
		cp "${ART_FILE[i]}" "$stage/modules/$dest/"
	done
	for dest in $(printf '%s\n' "${ART_DEST[@]}" | grep -vx dist | sort -u); do
		for template in "$SUPPORT_DIR/modules/$dest"/*; do
			sed "s/@OPENSEARCH_VERSION@/$OPENSEARCH_VERSION/g" "$template" >"$stage/modules/$dest/$(basename "$template")"
		done
	done
	install_fingerprint >"$stage/.cloudshelf-install"
	rm -rf "$NODE_HOME"
	mv "$stage" "$NODE_HOME"
	chown -R "$OS_USER:" "$NODE_HOME"
}

cmd_install() {
	require_root
	need_tools
	take_lock
	is_installed && return 0
	local pid
	if pid=$(node_pid); then
		die "the files OpenSearch is installed from changed (scripts/opensearch/), but this checkout's node runs (pid $pid): run scripts/opensearch.sh stop, then start"
	fi
	ensure_os_user
	read_manifest
	fetch_artifacts
	mkdir -p "$OPENSEARCH_DIR"
	info "installing OpenSearch $OPENSEARCH_VERSION in $NODE_HOME"
	build_home
	info "installed OpenSearch $OPENSEARCH_VERSION with modules: $(cd "$NODE_HOME/modules" && echo *)"
}

# ---------------------------------------------------------------------------------------
# Java: OpenSearch 2.19 runs on Java 11 to 21. It needs the Security Manager, which Java 24
# removed, so a newer default JDK (or a JAVA_HOME set for another tool) is skipped.

java_major() {
	local home=$1 version
	version=$(sed -n 's/^JAVA_VERSION="\([0-9.]*\).*/\1/p' "$home/release" 2>/dev/null || true)
	[[ -n $version ]] || version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
		sed -n 's/^ *java.specification.version = //p')
	version=${version#1.}
	echo "${version%%.*}"
}

find_java_home() {
	if [[ -n ${OPENSEARCH_JAVA_HOME:-} ]]; then
		[[ -x $OPENSEARCH_JAVA_HOME/bin/java ]] || die "OPENSEARCH_JAVA_HOME=$OPENSEARCH_JAVA_HOME has no bin/java"
		echo "$OPENSEARCH_JAVA_HOME"
		return 0
	fi
	local candidates=() home major java
	[[ -n ${JAVA_HOME:-} ]] && candidates+=("$JAVA_HOME")
	java=$(command -v java || true)
	[[ -n $java ]] && candidates+=("$(dirname "$(dirname "$(readlink -f "$java")")")")
	candidates+=(/usr/lib/jvm/*)
	for home in "${candidates[@]}"; do
		[[ -x $home/bin/java ]] || continue
		major=$(java_major "$home")
		if [[ $major =~ ^[0-9]+$ ]] && ((major >= 11 && major <= 21)); then
			readlink -f "$home"
			return 0
		fi
	done
	return 1
}

ensure_java() {
	find_java_home && return 0
	info "no Java 11 to 21 found (OpenSearch $OPENSEARCH_VERSION needs one); installing"
	apt_install openjdk-17-jre-headless >&2
	find_java_home || die "installed openjdk-17-jre-headless but still found no Java 11 to 21"
}

# ---------------------------------------------------------------------------------------
# Processes

# The java process of the node whose home is this checkout's, from the pid file or, when
# that is gone (or not written yet), from the process table.
node_pid() {
	local pid file
	if pid=$(live_pid_from_file "$PIDFILE") && is_our_node "$pid"; then
		echo "$pid"
		return 0
	fi
	for file in /proc/[0-9]*/cmdline; do
		pid=${file#/proc/}
		pid=${pid%/cmdline}
		if is_our_node "$pid"; then
			echo "$pid"
			return 0
		fi
	done
	return 1
}

# The node's JVM, not a CLI tool (opensearch-keystore passes the same path.home).
is_our_node() {
	grep -qzxF -- "-Dopensearch.path.home=$NODE_HOME" "/proc/$1/cmdline" 2>/dev/null &&
		grep -qzxF -- org.opensearch.bootstrap.OpenSearch "/proc/$1/cmdline" 2>/dev/null
}

# Name who listens on a port; for an OpenSearch node that is its home, i.e. its checkout.
describe_listener() {
	local pid=$1 home
	home=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/^-Dopensearch\.path\.home=//p' || true)
	if [[ -n $home ]]; then
		printf 'pid %s (an OpenSearch node whose home is %s)' "$pid" "$home"
	else
		describe_pid "$pid"
	fi
}

# Refuse to start when someone else holds a port — typically the node of another checkout
# of this repository — and say who, instead of failing deep in the log.
check_port_free() {
	local port=$1 pid owner
	is_port_listening "$port" || return 0
	pid=$(listening_pid "$port")
	owner=${pid:+$(describe_listener "$pid")}
	die "port $port is already in use by ${owner:-another process}.
  If that is another checkout's OpenSearch, stop it there (cd <that checkout> && scripts/opensearch.sh stop)
  or give this checkout other ports, e.g. OPENSEARCH_PORT=59201 OPENSEARCH_TRANSPORT_PORT=59301 scripts/opensearch.sh start"
}

# The HTTP port the running node was started with (config is rewritten only on start).
running_port() {
	sed -n 's/^http\.port: *//p' "$CONF_DIR/opensearch.yml" 2>/dev/null || true
}

# The heap the running node was started with; a newly chosen one applies at the next start.
running_heap() {
	sed -n 's/^-Xmx//p' "$CONF_DIR/jvm.options" 2>/dev/null || true
}

# Yellow or green within a second; a cluster that is still red answers 408, so -f fails.
# Prints the status.
is_healthy() {
	curl -fsS --max-time 5 "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
		sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' | grep .
}

show_logs() {
	show_log_tail "$STARTUP_LOG"
	show_log_tail "$LOGFILE"
}

wait_until_ready() {
	local pid=$1 deadline=$((SECONDS + START_TIMEOUT)) status
	while ((SECONDS < deadline)); do
		if status=$(is_healthy); then
			echo "$status"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			show_logs
			die "OpenSearch (pid $pid) exited during startup"
		fi
		sleep 0.25
	done
	show_logs
	die "OpenSearch did not reach yellow health on 127.0.0.1:$OPENSEARCH_PORT within ${START_TIMEOUT}s"
}

# ---------------------------------------------------------------------------------------
# Start, stop, status

prepare_dirs() {
	mkdir -p "$OPENSEARCH_DIR" "$CONF_DIR" "$DATA_DIR" "$LOGS_DIR" "$TMP_DIR" "$SNAPSHOTS_DIR"
	ensure_traversable "$OPENSEARCH_DIR"
	# The node writes its pid file, keystore, data, logs, temp files (JNA) and snapshots here.
	chown "$OS_USER:" "$OPENSEARCH_DIR" "$CONF_DIR" "$DATA_DIR" "$LOGS_DIR" "$TMP_DIR" "$SNAPSHOTS_DIR"
	chmod 750 "$DATA_DIR" "$SNAPSHOTS_DIR"
}

# The heap for this start: OPENSEARCH_HEAP when set, else sized from the machine
# (scripts/opensearch/heap.sh). Sets HEAP and HEAP_REASON.
choose_heap() {
	read -r HEAP HEAP_REASON < <(opensearch_heap)
	[[ $HEAP =~ ^[1-9][0-9]*[mMgG]$ ]] || die "OPENSEARCH_HEAP=$HEAP is not a size such as 512m or 2g"
}

# Rewritten on every start so a changed port, heap or setting here takes effect on restart.
write_config() {
	cat >"$CONF_DIR/opensearch.yml" <<CONF
# Written by scripts/opensearch.sh on every start; edit the script, not this file.
cluster.name: $CLUSTER_NAME
node.name: $CLUSTER_NAME-local
path.data: $DATA_DIR
path.logs: $LOGS_DIR
# Loopback only, plain HTTP: the distribution has no security plugin, so this node has no
# authentication at all and must never face a network.
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
# One node that elects itself and forms no cluster with anyone; with a loopback-only
# transport it is also exempt from the production bootstrap checks (vm.max_map_count...).
discovery.type: single-node
# A dev box's disk may well be over 85/90/95% full: never block allocation or turn
# indices read-only over it.
cluster.routing.allocation.disk.threshold_enabled: false
# One node cannot hold replicas: new indices default to none, so health is green.
cluster.default_number_of_replicas: 0
# Where an fs snapshot repository may live (search.snapshots registers one below it);
# a deployed node uses S3 through the repository-s3 plugin instead (docs/opensearch.md).
path.repo: [$SNAPSHOTS_DIR]
CONF
	# The distribution's jvm.options with our heap, absolute paths under var/opensearch
	# (its relative logs/ and data/ would land in the home) and smaller GC logs.
	# bin/opensearch appends OPENSEARCH_JAVA_OPTS after these.
	cat >"$CONF_DIR/jvm.options" <<CONF
# Written by scripts/opensearch.sh on every start; edit the script, not this file.
-Xms$HEAP
-Xmx$HEAP
11-:-XX:+UseG1GC
11-:-XX:G1ReservePercent=25
11-:-XX:InitiatingHeapOccupancyPercent=30
-Djava.io.tmpdir=\${OPENSEARCH_TMPDIR}
-XX:+HeapDumpOnOutOfMemoryError
-XX:HeapDumpPath=$LOGS_DIR
-XX:ErrorFile=$LOGS_DIR/hs_err_pid%p.log
9-:-Xlog:gc*,gc+age=trace,safepoint:file=$LOGS_DIR/gc.log:utctime,pid,tags:filecount=4,filesize=16m
18-:-Djava.security.manager=allow
20-:--add-modules=jdk.incubator.vector
-Djava.util.concurrent.ForkJoinPool.common.threadFactory=org.opensearch.secure_sm.SecuredForkJoinWorkerThreadFactory
CONF
	cp "$NODE_HOME/config/log4j2.properties" "$CONF_DIR/log4j2.properties"
	chown "$OS_USER:" "$CONF_DIR/opensearch.yml" "$CONF_DIR/jvm.options" "$CONF_DIR/log4j2.properties"
}

cmd_start() {
	require_root
	need_tools
	take_lock
	local pid port status java_home
	if pid=$(node_pid); then
		port=$(running_port)
		[[ $port == "$OPENSEARCH_PORT" ]] ||
			die "this checkout's OpenSearch (pid $pid) is running on port ${port:-?}, not OPENSEARCH_PORT=$OPENSEARCH_PORT; run scripts/opensearch.sh stop first"
		status=$(wait_until_ready "$pid")
		info "already running on 127.0.0.1:$OPENSEARCH_PORT (pid $pid, status $status, heap $(running_heap); a new heap applies at the next start)"
		# Started by an older copy of this script: search index snapshots need path.repo.
		grep -q '^path\.repo:' "$CONF_DIR/opensearch.yml" 2>/dev/null ||
			info "this node was started without path.repo, so search index snapshots fail: run scripts/opensearch.sh stop, then start"
		return 0
	fi
	cmd_install
	ensure_os_user
	java_home=$(ensure_java)
	prepare_dirs
	check_port_free "$OPENSEARCH_PORT"
	check_port_free "$OPENSEARCH_TRANSPORT_PORT"
	choose_heap
	write_config
	rm -f "$PIDFILE"
	info "heap $HEAP: $HEAP_REASON"
	info "starting OpenSearch $OPENSEARCH_VERSION on 127.0.0.1:$OPENSEARCH_PORT with Java $(java_major "$java_home"), heap $HEAP (log: $LOGFILE)"
	local started=$SECONDS
	# OPENSEARCH_TMPDIR set saves the launcher a JVM run; HOME: the user has none. The
	# daemon must not inherit the lock (fd 9), or the next start would wait on it forever.
	if ! as_opensearch env -u JAVA_HOME -u JAVA_TOOL_OPTIONS -u JAVA_OPTS \
		HOME="$OPENSEARCH_DIR" OPENSEARCH_JAVA_HOME="$java_home" OPENSEARCH_PATH_CONF="$CONF_DIR" \
		OPENSEARCH_TMPDIR="$TMP_DIR" OPENSEARCH_JAVA_OPTS="$OPENSEARCH_JAVA_OPTS" \
		"$NODE_HOME/bin/opensearch" --daemonize --pidfile "$PIDFILE" >"$STARTUP_LOG" 2>&1 9>&-; then
		show_log_tail "$STARTUP_LOG"
		die "bin/opensearch failed to start the node"
	fi
	pid=$(node_pid) || {
		show_logs
		die "OpenSearch exited right after bin/opensearch started it"
	}
	status=$(wait_until_ready "$pid")
	info "ready in $((SECONDS - started))s: http://127.0.0.1:$OPENSEARCH_PORT (pid $pid, cluster $CLUSTER_NAME, status $status)"
}

cmd_stop() {
	require_root
	local pid
	[[ -d $OPENSEARCH_DIR ]] && take_lock
	if ! pid=$(node_pid); then
		info "not running ($OPENSEARCH_DIR)"
		rm -f "$PIDFILE"
		return 0
	fi
	info "stopping OpenSearch (pid $pid)"
	# SIGTERM is OpenSearch's clean shutdown: it closes the shards and removes its pid file.
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_for_exit "$pid" "$STOP_TIMEOUT"; then
		show_log_tail "$LOGFILE"
		die "OpenSearch (pid $pid) did not exit within ${STOP_TIMEOUT}s"
	fi
	rm -f "$PIDFILE"
	info "stopped"
}

cmd_status() {
	local pid port status
	if pid=$(node_pid); then
		port=$(running_port)
		if [[ $port != "$OPENSEARCH_PORT" ]]; then
			info "running (pid $pid) on 127.0.0.1:${port:-?}, not on OPENSEARCH_PORT=$OPENSEARCH_PORT"
			exit 1
		fi
		if status=$(is_healthy); then
			info "running and healthy (status $status) on 127.0.0.1:$OPENSEARCH_PORT (pid $pid)"
			return 0
		fi
		info "running (pid $pid) but not healthy (red or still starting) on 127.0.0.1:$OPENSEARCH_PORT"
		exit 1
	fi
	if ! is_installed; then
		info "not installed ($NODE_HOME)"
		exit 3
	fi
	info "stopped ($OPENSEARCH_DIR)"
	exit 3
}

case "${1:-}" in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 {install|start|stop|status}" >&2
	exit 2
	;;
esac
