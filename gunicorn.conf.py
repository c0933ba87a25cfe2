"""gunicorn configuration, read from the environment (gunicorn loads ./gunicorn.conf.py itself).

    gunicorn integration_admin.wsgi            # from the project directory
    gunicorn -c /path/to/gunicorn.conf.py integration_admin.wsgi

Every knob is a ``WEB_*`` variable (also read from the project's ``.env``), listed in
.env.example and docs/deploy.md. Command-line flags still override this file.
"""

import multiprocessing
from pathlib import Path

import environ

env = environ.Env()
environ.Env.read_env(Path(__file__).resolve().parent / ".env", overwrite=False)

# Where to listen: host:port (several, comma-separated) or unix:/path.
bind = env.list("WEB_BIND", default=["127.0.0.1:8000"])
# Processes: each holds its own database connections; CPU-bound work (parsing, mapping) scales
# with processes, not threads. Default: one per core, at least 2.
workers = env.int("WEB_WORKERS", default=max(2, multiprocessing.cpu_count()))
# Threads per process (gthread worker): covers waits on PostgreSQL, Redis and sync-mode Braze calls.
threads = env.int("WEB_THREADS", default=4)
worker_class = "gthread" if threads > 1 else "sync"
# A request running longer than this is killed. Keep it above DELIVERY_SYNC_BUDGET_SECONDS.
timeout = env.int("WEB_TIMEOUT_SECONDS", default=30)
# On SIGTERM (deploys, scale-in): stop accepting, finish requests in flight for up to this long.
graceful_timeout = env.int("WEB_GRACEFUL_TIMEOUT_SECONDS", default=30)
# Idle keep-alive connections from the load balancer; keep it above the balancer's idle timeout.
keepalive = env.int("WEB_KEEPALIVE_SECONDS", default=75)
# Recycle a process after this many requests (plus jitter) so slow leaks cannot grow; 0 = never.
max_requests = env.int("WEB_MAX_REQUESTS", default=50_000)
max_requests_jitter = max(1, max_requests // 10) if max_requests else 0
# "-" = stdout; empty = no access log. Never logs bodies or Authorization headers.
accesslog = env.str("WEB_ACCESS_LOG", default="-") or None
errorlog = env.str("WEB_ERROR_LOG", default="-")
loglevel = env.str("WEB_LOG_LEVEL", default="info")
# Trust X-Forwarded-* only from these proxy addresses (the load balancer), comma-separated.
forwarded_allow_ips = env.str("WEB_FORWARDED_ALLOW_IPS", default="127.0.0.1")
pidfile = env.str("WEB_PID_FILE", default="") or None
# Not preloaded: each worker process starts its own app (and, without a broker, its own
# embedded delivery thread, which would not survive a fork from the master).
preload_app = False


def child_exit(server, worker) -> None:
    """Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR set): a worker that exited keeps
    its counters in the sum, and its live-only gauge files are dropped."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
