#!/usr/bin/env bash
# The OpenSearch heap for this machine, sourced by scripts/opensearch.sh (and by its test,
# tests/test_opensearch_heap.py, with fake /proc/meminfo and cgroup files).
#
#   scripts/opensearch/heap.sh [meminfo] [cgroup memory.max]   prints "<heap> <why>"
#
# The rule (docs/search-scaling.md): of the memory left once the rest of the stack has its
# share (HEAP_RESERVE_MB), half goes to the heap and half stays free for the filesystem
# cache Lucene reads its segments through; rounded down to 256 MB, at least 512 MB, at most
# 8 GB. OPENSEARCH_HEAP (e.g. 2g) overrides the whole rule.
# shellcheck shell=bash

# What the rest of the local stack may use beside OpenSearch, in MB:
#   Postgres 1024   shared_buffers 512MB (scripts/postgres.sh) plus backends' work_mem
#   Redis    1024   both roles' maxmemory (256mb cache + 512mb durable) plus fork headroom
#                   for snapshots and AOF rewrites
#   app      1024   gunicorn (one worker per core) and the Celery worker (2) and beat,
#                   ~150 MB each, on a 2-core box
#   system    512   the OS, shells, the benchmark's load generator
HEAP_RESERVE_MB=3584
HEAP_MIN_MB=512
# A dev or CI box is shared: with other checkouts, the test suite, other engineers. The
# index of a million books needs far less heap than this (docs/search-scaling.md), and
# every MB more for the heap is a MB less of filesystem cache, which is what keeps Lucene's
# segments fast. Compressed object pointers would allow up to 31 GB (HEAP_COOPS_MB); a
# dedicated search server sets OPENSEARCH_HEAP instead.
HEAP_CEILING_MB=8192
# Past ~31 GB the JVM can no longer use compressed object pointers: a 32 GB heap holds less.
HEAP_COOPS_MB=31744
HEAP_STEP_MB=256

# The memory this machine (or its container's cgroup limit, when lower) has, in MB.
machine_memory_mb() {
	local meminfo=${1:-/proc/meminfo} cgroup_max=${2:-/sys/fs/cgroup/memory.max} total_kb limit
	total_kb=$(awk '$1 == "MemTotal:" { print $2 }' "$meminfo" 2>/dev/null || true)
	[[ $total_kb =~ ^[0-9]+$ ]] || return 1
	local total_mb=$((total_kb / 1024))
	# cgroup v2: "max" when unlimited, else bytes.
	limit=$(cat "$cgroup_max" 2>/dev/null || true)
	if [[ $limit =~ ^[0-9]+$ ]] && ((limit / 1048576 < total_mb)); then
		total_mb=$((limit / 1048576))
	fi
	echo "$total_mb"
}

# "<heap> <why>": the heap for -Xms/-Xmx (e.g. 8g, 2304m) and one line saying how it was chosen.
opensearch_heap() {
	if [[ -n ${OPENSEARCH_HEAP:-} ]]; then
		echo "$OPENSEARCH_HEAP set by OPENSEARCH_HEAP"
		return 0
	fi
	local total_mb left_mb half_mb heap_mb why
	if ! total_mb=$(machine_memory_mb "$@"); then
		echo "${HEAP_MIN_MB}m the machine's memory is unknown (no MemTotal in ${1:-/proc/meminfo}): the minimum"
		return 0
	fi
	left_mb=$((total_mb - HEAP_RESERVE_MB))
	((left_mb > 0)) || left_mb=0
	half_mb=$((left_mb / 2))
	heap_mb=$((half_mb / HEAP_STEP_MB * HEAP_STEP_MB))
	why="${total_mb} MB memory - ${HEAP_RESERVE_MB} MB reserved for Postgres, Redis and the app = ${left_mb} MB; half for the heap"
	if ((heap_mb < HEAP_MIN_MB)); then
		heap_mb=$HEAP_MIN_MB
		why+=", raised to the ${HEAP_MIN_MB} MB minimum"
	elif ((heap_mb > HEAP_CEILING_MB)); then
		heap_mb=$HEAP_CEILING_MB
		why+=", capped at the ${HEAP_CEILING_MB} MB ceiling of a shared box (OPENSEARCH_HEAP overrides)"
	fi
	((heap_mb <= HEAP_COOPS_MB)) || heap_mb=$HEAP_COOPS_MB
	if ((heap_mb % 1024 == 0)); then
		echo "$((heap_mb / 1024))g $why"
	else
		echo "${heap_mb}m $why"
	fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	opensearch_heap "$@"
fi
