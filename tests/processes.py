"""Real service processes for tests: gunicorn web servers and Celery workers on the test database.

They share the test database, so the tests using them run on PostgreSQL only.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests
from django.conf import settings
from django.db import connection

from integration_admin.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def server_url() -> str:
    """The PostgreSQL server of the test database as a URL, with its password when it has one
    (URL-quoted), so a child process connects without PGPASSWORD in its environment."""
    db = connection.settings_dict
    user = quote(db["USER"] or "postgres", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"


def database_url() -> str:
    """The test database (test_<name>) as a URL other processes can use."""
    return f"{server_url()}/{quote(connection.settings_dict['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServiceProcesses:
    """Starts gunicorn and Celery processes with this test's settings; stops them all at the end."""

    def __init__(self, log_dir: Path, redis_url: str):
        self.log_dir = log_dir
        self.redis_url = redis_url
        self.processes: list[subprocess.Popen] = []
        self.worker_names: list[str] = []

    def environment(self, **overrides: str) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": self.redis_url,
            "CACHE_URL": self.redis_url,
            "BRAZE_KEY_ENCRYPTION_KEYS": ",".join(settings.BRAZE_KEY_ENCRYPTION_KEYS),
            "SECRET_KEY": settings.SECRET_KEY,
            "DELIVERY_SWEEP_INTERVAL_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }

    def _start(self, command: list[str], name: str, **overrides: str) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            command, cwd=ROOT, env=self.environment(**overrides), start_new_session=True,
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def start_web(self, *, workers: int = 2, threads: int = 4) -> str:
        """A gunicorn server (a master and `workers` processes) on a free port; returns its URL."""
        port = free_port()
        command = [sys.executable, "-m", "gunicorn", "integration_admin.wsgi"]
        self._start(
            command, f"web-{port}", WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS=str(workers),
            WEB_THREADS=str(threads), WEB_ACCESS_LOG="", WEB_LOG_LEVEL="warning",
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url)
        return url

    def start_worker(
        self, *, beat: bool = False, prefetch_multiplier: int | None = None, **overrides: str
    ) -> subprocess.Popen:
        """A Celery worker (solo pool) named worker-N; ``prefetch_multiplier=1`` keeps a busy
        worker from reserving tasks another idle worker could run."""
        name = f"worker-{len(self.processes)}"
        command = [
            sys.executable, "-m", "celery", "-A", "integration_admin", "worker", "--pool", "solo",
            "--loglevel", "WARNING", "--without-mingle", "--without-gossip", "-n", f"{name}@%h",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(self.log_dir / f"{name}-beat")]
        if prefetch_multiplier is not None:
            command += ["--prefetch-multiplier", str(prefetch_multiplier)]
        self.worker_names.append(name)
        return self._start(command, name, **overrides)

    def wait_until_workers_answer(self, timeout: float = 60.0) -> None:
        """Ping over the broker until every worker started here answers (it is consuming)."""
        deadline = time.monotonic() + timeout
        while True:
            replies = {
                name.split("@")[0]
                for reply in celery_app.control.ping(timeout=0.5)
                for name in reply
            }
            if set(self.worker_names) <= replies:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"workers never answered a ping:\n{self.logs()}")

    def stop_all(self) -> None:
        """SIGTERM (gunicorn and Celery shut down gracefully), then SIGKILL what is left."""
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-3000:] for path in self.log_dir.glob("*.log")
        )


def wait_until_ready(base_url: str, timeout: float = 60.0) -> None:
    """Poll /readyz until it answers 200 (database and broker reachable)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{base_url}/readyz never answered 200")
        time.sleep(0.2)


def redis_broker(test_settings, redis_url: str, needs: str) -> redis.Redis:
    """A flushed Redis database of the test's own as Celery's broker, after checking that the
    test can run here: PostgreSQL (``needs`` says why) and Redis reachable; else a skip."""
    if connection.vendor != "postgresql":
        pytest.skip(f"{needs} need a database shared between processes (PostgreSQL)")
    client = redis.Redis.from_url(redis_url)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {redis_url}")
    client.flushdb()  # our own numbered database only: stale tasks and counters of earlier runs
    test_settings.CELERY_BROKER_URL = redis_url
    celery_app.conf.broker_url = redis_url
    return client


@contextmanager
def services_on_broker(test_settings, tmp_path, redis_url: str, needs: str) -> Iterator:
    """``ServiceProcesses`` on a flushed Redis broker of the test's own (``redis_broker``),
    stopped and the broker flushed afterwards."""
    client = redis_broker(test_settings, redis_url, needs)
    started = ServiceProcesses(tmp_path, redis_url)
    try:
        yield started
    finally:
        started.stop_all()
        client.flushdb()
