"""What the benchmarks stand on and start: their PostgreSQL database, the local fake Braze,
``run_delivery_worker`` processes, gunicorn and Celery workers. Every process runs this
interpreter from the repository root and is stopped by ``stop``."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent


def use_bench_settings(database_url: str) -> None:
    """The environment a benchmark and the processes it starts run with, where the caller's own
    environment says nothing: its database (created when missing), no embedded delivery thread
    (it would take CPU from what is timed), and only errors in the log."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integration_admin.settings")
    os.environ.setdefault("DELIVERY_EMBEDDED_WORKER", "false")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    os.environ.setdefault("DATABASE_URL", database_url)
    ensure_database(os.environ["DATABASE_URL"])


def ensure_database(url: str) -> None:
    """Creates the PostgreSQL database ``url`` names when it is missing (nothing for SQLite)."""
    import psycopg

    parts = urlparse(url)
    if not parts.scheme.startswith("postgres"):
        return
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_fake_braze(api_key: str, *options: str) -> tuple[subprocess.Popen, str]:
    """The fake Braze in its own process on a free port (with its command line's ``options``);
    returns it and its URL."""
    command = [sys.executable, "-m", "mappings.fake_braze", "--port", "0", "--api-key", api_key]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*command, *options],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    return process, re.search(r"http://\S+", line).group(0)


def start_delivery_workers(count: int) -> list[subprocess.Popen]:
    """``manage.py run_delivery_worker`` processes, returned once each says it is running (and
    so is polling)."""
    command = [sys.executable, "manage.py", "run_delivery_worker", "--idle-seconds", "0.02"]
    workers = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
        for _ in range(count)
    ]
    for process in workers:
        if "running" not in process.stdout.readline():
            stop(workers)
            raise RuntimeError("a delivery worker did not start")
    return workers


def server_env(**extra: str) -> dict[str, str]:
    """This process's environment for a server that must not change under a measurement."""
    return {
        **os.environ,
        "DATABASE_CONN_MAX_AGE": "60",
        "WEB_ACCESS_LOG": "",
        "WEB_LOG_LEVEL": "warning",
        "WEB_MAX_REQUESTS": "0",  # no worker recycling in the middle of a measurement
        **extra,
    }


def start_web(workers: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with ``workers`` processes of 4 threads on a free port, once /readyz answers."""
    import requests

    port = free_port()
    env = server_env(WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS=str(workers), WEB_THREADS="4")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "integration_admin.wsgi"], cwd=ROOT, env=env
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except requests.RequestException:
            pass
        time.sleep(0.1)
    stop([process])
    raise SystemExit("gunicorn did not become ready")


def start_celery(count: int) -> list[subprocess.Popen]:
    """Celery workers (solo pool, the service's settings), once they all answer a ping."""
    from integration_admin.celery import app

    command = [
        sys.executable, "-m", "celery", "-A", "integration_admin", "worker", "--pool", "solo",
        "--loglevel", "WARNING", "--without-mingle", "--without-gossip",
    ]  # fmt: skip
    env = server_env(DJANGO_SETTINGS_MODULE="integration_admin.settings")
    processes = [
        subprocess.Popen([*command, "-n", f"bench{n}@%h"], cwd=ROOT, env=env)  # noqa: S603
        for n in range(count)
    ]
    for _ in range(120):
        if len(app.control.ping(timeout=0.5) or []) >= count:
            return processes
    stop(processes)
    raise SystemExit("Celery workers did not answer a ping")


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to each (they shut down gracefully), then wait for them all."""
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


def _processes() -> list[tuple[int, int, str, float]]:
    """(pid, parent pid, command line, user + system CPU seconds) of every process (Linux)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended
            continue
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        found.append((int(entry), int(fields[1]), command, cpu))
    return found


def cpu_by_role(web: subprocess.Popen) -> dict[str, float]:
    """CPU seconds used so far by this web server (master and workers) and by PostgreSQL."""
    processes = _processes()
    return {
        "web": sum(cpu for pid, parent, _, cpu in processes if web.pid in (pid, parent)),
        "db": sum(cpu for _, _, command, cpu in processes if command.startswith("postgres")),
    }


def cpu_by_process(web: subprocess.Popen, database: str) -> dict[tuple[str, int], float]:
    """CPU seconds used so far by each process of this web server and by each PostgreSQL
    backend serving ``database`` (its process title names it, so other users of a shared
    server are left out), keyed by (role, pid)."""
    found = {}
    for pid, parent, command, cpu in _processes():
        if web.pid in (pid, parent):
            found[("web", pid)] = cpu
        elif command.startswith("postgres") and f" {database} " in command:
            found[("db", pid)] = cpu
    return found


def cpu_used(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per role between two ``cpu_by_process`` snapshots: a process that ended in
    between is left out (never a negative figure), one that started counts from zero."""
    used = {"web": 0.0, "db": 0.0}
    for (role, pid), cpu in after.items():
        used[role] += cpu - before.get((role, pid), 0.0)
    return used
