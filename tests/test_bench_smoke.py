"""Every benchmark in bench/ still runs: each is started as a user starts it (its own process,
``--smoke``: its whole code path at a tiny size, in seconds) on the database it is written for,
and must exit 0, print its table and leave docs/benchmarks.md alone (the figures there come from
full runs; a smoke run's figures mean nothing).

The PostgreSQL benchmarks write into the test database (flushed after each test): skipped in
the SQLite pass, whose in-memory database no other process can open.
"""

import os
import shutil
import subprocess
import sys

import pytest
import redis
from django.db import connection

from tests.processes import ROOT, database_url

DOCS = ROOT / "docs" / "benchmarks.md"
REDIS_URL = os.environ.get("TEST_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")


def _run_smoke(*command: str, **env: str) -> str:
    """Runs ``python <command> --smoke``; returns what it printed."""
    docs_before = DOCS.read_bytes()
    result = subprocess.run(
        [sys.executable, *command, "--smoke"], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert DOCS.read_bytes() == docs_before, "a smoke run rewrote docs/benchmarks.md"
    return result.stdout


@pytest.fixture
def bench_database(transactional_db) -> str:
    """The test database as a URL for the benchmark's processes."""
    if connection.vendor != "postgresql":
        pytest.skip("written for PostgreSQL; the SQLite test database is private to this process")
    return database_url()


@pytest.fixture
def bench_redis() -> str:
    """A Redis database of its own for the benchmarks' broker and cache."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def test_the_mapping_benchmark_checks_both_sides_agree_and_prints_their_ratio():
    printed = _run_smoke("bench/mapping_engine.py")

    assert "300 records, 20-row mapping" in printed
    assert "ratio engine / hand-written:" in printed


def test_the_log_pages_benchmark_fills_a_fresh_log_and_times_every_page(bench_database):
    printed = _run_smoke("-m", "bench.log_pages", BENCH_DATABASE_URL=bench_database)

    assert "filled 5,000 / 5,000 deliveries" in printed
    assert "| deliveries, default |" in printed
    assert "| worst case: two filters that never match together |" in printed


def test_the_insert_benchmark_writes_rows_three_ways_and_prints_their_ratios(bench_database):
    printed = _run_smoke("bench/delivery_insert.py", DATABASE_URL=bench_database)

    for way in ("ours (outbox.add)", "same statement, client-side binding", "save(force_insert"):
        assert f"| {way}" in printed
    assert "| 1.00x |" in printed


def test_the_delivery_benchmark_drains_the_outbox_and_prints_its_ratio(bench_database):
    printed = _run_smoke("bench/delivery_drain.py", DATABASE_URL=bench_database)

    assert "| outbox drained by 1 worker processes, batched |" in printed
    assert "Throughput ratio project/baseline:" in printed
    assert "Requests: 4 for 300 objects, ideal ceil(objects/75) = 4" in printed


def test_the_sync_latency_benchmark_times_both_sides_and_counts_each_record_once(bench_database):
    printed = _run_smoke("bench/sync_latency.py", DATABASE_URL=bench_database)

    assert "| gunicorn workers | clients | direct p50 |" in printed
    assert "| 1 | 2 |" in printed  # 2 concurrent clients on 1 gunicorn worker
    assert "Every sync ingest reached Braze exactly once." in printed


def _scale_out_without(part: str, database: str, redis_url: str) -> str:
    """The scale-out benchmark's smoke run with its ``web`` or ``celery`` part left out."""
    return _run_smoke(
        "bench/scale_out.py", f"--{part}-workers", "none",
        DATABASE_URL=database, BENCH_REDIS_URL=redis_url,
    )  # fmt: skip


def test_the_scale_out_benchmark_drains_with_celery_workers(bench_database, bench_redis):
    printed = _scale_out_without("web", bench_database, bench_redis)

    assert "| Celery workers | delivery records/s |" in printed
    assert "ideal ceil(300/75) = 4" in printed


def test_the_scale_out_benchmark_loads_ingest_and_the_bare_views_with_wrk(
    bench_database, bench_redis
):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not on the PATH: scripts/bench-tools installs it")

    printed = _scale_out_without("celery", bench_database, bench_redis)

    assert "| gunicorn workers | ingest req/s |" in printed
    assert "Best ingest:" in printed


def test_the_platform_benchmark_sends_each_platform_route_beside_the_generic_route(
    bench_database,
):
    printed = _run_smoke("bench/platform_adapters.py", DATABASE_URL=bench_database)

    for platform in ("dialogflow-cx", "dialogflow-es", "rasa", "voiceflow", "botpress",
                     "pypestream", "twilio-studio", "lex-v2"):  # fmt: skip
        assert f"| {platform} |" in printed
    assert (
        "| platform | platform route p50 / p99 ms | generic p50 / p99 ms | added p50 ms" in printed
    )


def test_the_mapping_page_benchmark_times_the_page_with_its_rows_and_paths(bench_database):
    printed = _run_smoke("bench/mapping_page.py", DATABASE_URL=bench_database)

    assert "5 rows, 20 discovered paths, 1 rounds" in printed
    assert "| mapping set change page |" in printed


def test_the_lookup_benchmark_runs_ours_beside_the_naive_client_and_counts_exports(
    bench_database, bench_redis
):
    printed = _run_smoke("bench/lookups.py", DATABASE_URL=bench_database, CACHE_URL=bench_redis)

    assert "| ours | hit |" in printed
    assert "| ours | baseline | 150 |" in printed  # 0.5 per lookup, same bots, same server
    assert "| **added by the lookup: hit minus baseline** |" in printed
    assert "| naive | 300 | 1000.0 | 50 |" in printed  # Braze's 250 a minute, then 429s
    assert "(budget 250)" in printed
