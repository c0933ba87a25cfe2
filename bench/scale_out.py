"""Scale-out benchmark: ingest requests/s with 1, 2, 4 gunicorn workers beside a bare insert view,
and delivery records/s with 1, 2, 4 Celery workers, on PostgreSQL and Redis.

    scripts/bench-tools                    # once: installs wrk
    .venv/bin/python bench/scale_out.py
    .venv/bin/python bench/scale_out.py --smoke                       # 1 worker each, 1 round
    .venv/bin/python bench/scale_out.py --smoke --web-workers none    # delivery only, no wrk

Options: --web-workers 1,2,4  --celery-workers 1,2,4 (none: leave that part out)  --duration S
(per ingest measurement, 3)  --ingest-rounds R (16)  --rounds R (delivery rounds, 5)
--connections C (wrk connections, 8)  --records N (delivery, 10000)  --no-docs  --smoke.
DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bridge_bench_scale) is created and
migrated; BENCH_REDIS_URL (default redis://127.0.0.1:6379/15) is the broker and cache: the
benchmark deletes its Celery queue there, nothing else.

Ingest: for each worker count, one gunicorn server (settings bench.settings: the service's URLs
plus /bench/bare-insert/, a view that parses the JSON and inserts one row) is loaded by wrk on
loopback, alternating the async-mode ingest (auth, throttle, mapping, outbox rows, a Celery hint),
the bare view and the same insert behind DRF (/bench/bare-drf-insert/, the API's authentication,
throttle, parser and renderer) in short rounds (in one order, then the reverse), after a warm-up;
medians of the rounds. Delivery: 10,000 accepted deliveries
are put in the outbox (not timed), then N Celery worker processes (solo pool) drain them to a
local fake Braze; timed until no delivery is open. Rewrites its section of docs/benchmarks.md.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bridge_bench_scale")
os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["CELERY_BROKER_URL"] = os.environ["BENCH_REDIS_URL"]
os.environ["CACHE_URL"] = os.environ["BENCH_REDIS_URL"]
os.environ.setdefault("DELIVERY_EMBEDDED_WORKER", "false")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django  # noqa: E402

from bench import delivery_drain as drain  # noqa: E402 - shared data and outbox filling
from bench import report, services  # noqa: E402

MARK_START = "<!-- bench:scale-out:start -->"
MARK_END = "<!-- bench:scale-out:end -->"
COMMAND = ".venv/bin/python bench/scale_out.py"
SMOKE = {"web_workers": "1", "celery_workers": "1", "duration": 1.0, "ingest_rounds": 1,
         "rounds": 1, "connections": 2, "records": 300}  # fmt: skip
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
LIMITS = """\
What limits these figures: two cores shared by everything: wrk, gunicorn, PostgreSQL, Redis, the
Celery workers and the fake Braze (and, on this machine, other jobs). Past 2 processes more
workers only add context switches, so 4 gunicorn or Celery workers are not faster than 2 here;
on a machine with more cores each added process brings about one more core's worth. The CPU
table shows where an ingest's time goes: mostly the web process's Python. A warm async ingest
sends one statement to PostgreSQL (the Delivery row, an INSERT built once per process with its
values bound server-side on a cursor kept per thread, in autocommit: one round trip; its
attempt rows are written by the sender) and, for a busy client, no Redis round trip at all (the
rate limit reserves quota in chunks of 1% of the limit, at most 64, per process); the token's
client and the slug's mapping set come from the process's cache (`API_CONFIG_CACHE_SECONDS`),
content negotiation is remembered per Accept header, field discovery touches the database only
for paths it has not seen (and a conversation of a known shape is checked against a tree,
without building its paths), and the Celery hint is published at most once per
`DELIVERY_HINT_INTERVAL_SECONDS` per environment. What is left is the work itself, each piece
small: DRF's request handling, the JSON shape check, the mapping, discovery's check of the
document, the Delivery object and its INSERT (nine index entries, three foreign-key checks,
four JSON columns) and the answer. The INSERT is the largest of them; the rest is spread thin
over Django's and DRF's per-request code, and more Python per request also means more GIL
hand-offs between gunicorn's threads. The bare view is one JSON parse and one raw INSERT into
a one-index table.
Delivery is bound by the workers' Python and PostgreSQL (claim, then per batch of 75 the
attempt rows, inserted already stamped by one INSERT ... SELECT, and the outcome updates) and by
the fake Braze's own Python validation.

How far it goes: web processes and Celery workers are stateless and share only PostgreSQL and
Redis, so they scale out across machines behind a load balancer; then PostgreSQL (one primary;
one Delivery row per ingest, then one attempt row, its answer and two delivery updates when
sent) is the next bound, and beyond it Braze itself: `/users/track` allows 3,000 requests per
3 s per workspace, i.e. at 75 objects per request 225,000 objects per 3 s = 75,000 objects/s (our
default client limit of 2,400 / 3 s leaves headroom: 60,000 objects/s). A conversation that
yields one attribute object and one event object is 2 objects, so one workspace tops out at
about 30,000 such conversations/s (about 2.6 billion a day) however many workers run; several
workspaces (environments) have separate limits."""


def wrk_script(token: str, bodies: list[str]) -> str:
    lines = [
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        f'wrk.headers["Authorization"] = "Bearer {token}"',
        "local bodies = {",
        *[f"[==[{body}]==]," for body in bodies],
        "}",
        "local n = 0",
        "request = function()",
        "  n = n + 1",
        "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])",
        "end",
    ]
    handle = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
    handle.write("\n".join(lines))
    handle.close()
    return handle.name


def run_wrk(url: str, script: str, seconds: float, connections: int) -> dict[str, float]:
    """One closed-loop wrk run on loopback: requests/s, p50 and p99 in ms, non-2xx count."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["-s", script, url]
    # wrk from the system's PATH, arguments of our own.
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def measure(web: subprocess.Popen, url: str, script: str, args) -> dict[str, float]:
    """One wrk run plus the CPU milliseconds per request of the web server and of PostgreSQL
    (what the requests/s is spent on: 2 cores in all)."""
    before = services.cpu_by_role(web)
    result = run_wrk(url, script, args.duration, args.connections)
    after = services.cpu_by_role(web)
    requests_done = max(1.0, result["rps"] * max(1, round(args.duration)))
    for role in ("web", "db"):
        result[f"{role}_cpu"] = (after[role] - before[role]) * 1000 / requests_done
    return result


def reset_queue() -> None:
    import redis

    redis.Redis.from_url(os.environ["BENCH_REDIS_URL"]).delete("celery")


def empty_tables() -> None:
    """Both views' tables emptied by TRUNCATE, not DELETE: deleted rows would leave the outbox
    table and its indexes bloated (and autovacuum busy) for the next measurement, and only it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_bare_row, mappings_deliveryattempt, mappings_delivery")


def bench_ingest(counts, args, token, bodies) -> list[dict]:
    script = wrk_script(token, bodies)
    rows = []
    try:
        for workers in counts:
            empty_tables()
            process, url = services.start_web(workers)
            targets = {
                "ingest": f"{url}/api/v1/ingest/bench/?mode=async",
                "bare": f"{url}/bench/bare-insert/",
                "bare_drf": f"{url}/bench/bare-drf-insert/",
            }
            try:
                for target in targets.values():  # warm-up: imports, connections, caches
                    run_wrk(target, script, min(2, args.duration), args.connections)
                runs = {name: [] for name in targets}
                for number in range(args.ingest_rounds):
                    # Short rounds, each view first in every other one: this machine's speed
                    # drifts over seconds, and a pair measured back to back in both orders
                    # cancels a steady drift instead of always charging it to the same view.
                    order = list(targets.items())
                    for name, target in order if number % 2 == 0 else reversed(order):
                        runs[name].append(measure(process, target, script, args))
                    ingest, bare = runs["ingest"][-1]["rps"], runs["bare"][-1]["rps"]
                    print(
                        f"{workers} web workers, round {number + 1}/{args.ingest_rounds}: "
                        f"ingest {ingest:,.0f} req/s, bare {bare:,.0f} req/s "
                        f"({ingest / bare:.0%}), bare DRF {runs['bare_drf'][-1]['rps']:,.0f} req/s",
                        flush=True,
                    )
            finally:
                services.stop([process])
            reset_queue()
            empty_tables()
            row = {"workers": workers}
            for name, results in runs.items():
                for key in ("rps", "p50", "p99", "web_cpu", "db_cpu"):
                    row[f"{name}_{key}"] = statistics.median(r[key] for r in results)
                row[f"{name}_errors"] = sum(r["errors"] for r in results)
            # Each round measures ingest and then the bare view within seconds, under the same
            # load from the machine's other jobs: the median of those per-round ratios is steadier
            # than a ratio of medians taken from different rounds.
            row["ratio"] = _median_ratio(runs["ingest"], runs["bare"])
            row["drf_ratio"] = _median_ratio(runs["ingest"], runs["bare_drf"])
            row["cpu_ratio"] = (row["bare_web_cpu"] + row["bare_db_cpu"]) / (
                row["ingest_web_cpu"] + row["ingest_db_cpu"]
            )
            rows.append(row)
            print(row, flush=True)
    finally:
        os.unlink(script)
    return rows


def _median_ratio(ingest: list[dict], baseline: list[dict]) -> float:
    return statistics.median(i["rps"] / b["rps"] for i, b in zip(ingest, baseline, strict=True))


def bench_delivery(counts, args, mapping_set, payloads, fake_url) -> list[dict]:
    from mappings.models import Delivery
    from mappings.models.audit import OPEN_STATUSES
    from mappings.tasks import deliver_environment

    rows = []
    for workers in counts:
        processes = services.start_celery(workers)
        rates, requests_sent = [], []
        try:
            drain.fill_outbox(mapping_set, payloads[:300])  # warm-up
            deliver_environment.delay(mapping_set.environment_id)
            while Delivery.objects.filter(status__in=OPEN_STATUSES).exists():
                time.sleep(0.05)
            for _ in range(args.rounds):
                drain.fill_outbox(mapping_set, payloads)
                drain.clear_received(fake_url)
                started = time.perf_counter()
                for _ in range(workers):  # one drain task per worker: each drains until empty
                    deliver_environment.delay(mapping_set.environment_id)
                while Delivery.objects.filter(status__in=OPEN_STATUSES).exists():
                    time.sleep(0.02)
                rates.append(len(payloads) / (time.perf_counter() - started))
                requests_sent.append(drain.clear_received(fake_url))
                undelivered = Delivery.objects.exclude(status="delivered").count()
                if undelivered:
                    raise SystemExit(f"{undelivered} deliveries not delivered")
        finally:
            services.stop(processes)
        reset_queue()
        row = {
            "workers": workers,
            "rps": statistics.median(rates),
            "requests": statistics.median(requests_sent),
        }
        rows.append(row)
        print(row, flush=True)
    return rows


def setup(fake_url: str):
    from django.db import connection

    from mappings.models import ApiClient

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_bare_row "
            "(id bigserial PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz DEFAULT now())"
        )
    mapping_set = drain.setup_config(fake_url)
    ApiClient.objects.filter(name="bench").delete()
    client = ApiClient(name="bench", rate_limit="100000000/min")  # measure ingest, not throttle
    token = client.issue_token()
    client.save()
    client.mapping_sets.add(mapping_set)
    return mapping_set, token


def ingest_tables(ingest: list[dict]) -> list[str]:
    lines = [
        "| gunicorn workers | ingest req/s | p50 ms | p99 ms | bare insert req/s | p50 ms "
        "| p99 ms | ingest / bare | bare DRF req/s | ingest / bare DRF | non-2xx |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in ingest:
        errors = r["ingest_errors"] + r["bare_errors"] + r["bare_drf_errors"]
        lines.append(
            f"| {r['workers']} | {r['ingest_rps']:,.0f} | {r['ingest_p50']:.1f} "
            f"| {r['ingest_p99']:.1f} | {r['bare_rps']:,.0f} | {r['bare_p50']:.1f} "
            f"| {r['bare_p99']:.1f} | {r['ratio']:.0%} | {r['bare_drf_rps']:,.0f} "
            f"| {r['drf_ratio']:.0%} | {errors} |"
        )
    lines += [
        "",
        "CPU per request, in ms, over the same runs (what the 2 cores are spent on):",
        "",
        "| gunicorn workers | ingest: web | ingest: PostgreSQL | bare: web | bare: PostgreSQL "
        "| bare / ingest CPU | bare DRF: web | bare DRF: PostgreSQL |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['workers']} | {r['ingest_web_cpu']:.2f} | {r['ingest_db_cpu']:.2f} "
        f"| {r['bare_web_cpu']:.2f} | {r['bare_db_cpu']:.2f} | {r['cpu_ratio']:.0%} "
        f"| {r['bare_drf_web_cpu']:.2f} | {r['bare_drf_db_cpu']:.2f} |"
        for r in ingest
    ]
    best = max(ingest, key=lambda r: r["ingest_rps"])
    cpu_ratios = ", ".join(f"{r['cpu_ratio']:.0%}" for r in ingest)
    worker_counts = ", ".join(str(r["workers"]) for r in ingest)
    return [
        *lines,
        "",
        f"Best ingest: {best['ingest_rps']:,.0f} req/s with {best['workers']} workers, "
        f"{best['ratio']:.0%} of the bare view's req/s (median of the per-round ratios; bare "
        f"median {best['bare_rps']:,.0f} req/s), p99 {best['ingest_p99']:.1f} ms "
        f"(goal: >= 60% and p99 < 50 ms at that load). The CPU ratio, what the two cost per "
        f"request (web + PostgreSQL), is the steadier figure on a shared machine: "
        f"{cpu_ratios} with {worker_counts} workers. Beside the bare DRF view (the same "
        f"insert behind the API's DRF stack) ingest makes {best['drf_ratio']:.0%} of its "
        "req/s.",
    ]


def delivery_table(delivery: list[dict], records: int, limit: int) -> list[str]:
    return [
        "| Celery workers | delivery records/s | Braze requests per round |",
        "|---:|---:|---:|",
        *[f"| {r['workers']} | {r['rps']:,.0f} | {r['requests']:,.0f} |" for r in delivery],
        "",
        f"Braze requests for {records:,} one-object records: ideal "
        f"ceil({records:,}/{limit}) = {-(-records // limit)}.",
    ]


def tables(ingest: list[dict], delivery: list[dict], args, limit: int) -> str:
    """The ingest and CPU tables and the delivery table, each left out when its part was."""
    parts = [ingest_tables(ingest)] if ingest else []
    parts += [delivery_table(delivery, args.records, limit)] if delivery else []
    return "\n\n".join("\n".join(lines) for lines in parts)


def section(table: str, args) -> str:
    return "\n".join(
        [
            "## Scale-out: gunicorn workers, Celery workers, ingest beside a bare insert view",
            "",
            f"`{COMMAND}` (run {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC; "
            f"{report.machine()}; wrk on loopback, 1 thread, {args.connections} connections, "
            f"{args.duration:g} s per measurement, median of {args.ingest_rounds} rounds after "
            "a warm-up, the three views in one order, then the reverse (the ratio columns: "
            f"median of the per-round ratios); median of {args.rounds} delivery rounds of "
            f"{args.records:,} records; gunicorn with 4 "
            "threads per worker, `DATABASE_CONN_MAX_AGE=60`, Redis as cache and broker).",
            "",
            table,
            "",
            LIMITS,
        ]
    )


def _counts(text: str) -> list[int]:
    """``1,2,4`` -> [1, 2, 4]; ``none`` leaves that part of the benchmark out."""
    return [] if text.strip().lower() in ("", "none") else [int(n) for n in text.split(",")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web-workers", default="1,2,4")
    parser.add_argument("--celery-workers", default="1,2,4")
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--ingest-rounds", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--records", type=int, default=10_000)
    args = report.parse_args(parser, SMOKE, argv)
    web_counts, celery_counts = _counts(args.web_workers), _counts(args.celery_workers)
    if web_counts and shutil.which("wrk") is None:
        raise SystemExit("bench/scale_out.py needs wrk on the PATH: run scripts/bench-tools")
    services.ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from mappings.engine.mapping import build_payload

    call_command("migrate", verbosity=0)
    fake, fake_url = services.start_fake_braze(drain.API_KEY)
    try:
        mapping_set, token = setup(fake_url)
        conversations = drain.conversations(max(args.records, 200))
        bodies = [json.dumps(c, ensure_ascii=False) for c in conversations[:200]]
        spec = mapping_set.to_spec()
        payloads = []
        for conversation in conversations[: args.records]:
            result = build_payload(spec, conversation)
            payloads.append((conversation, result.payload, result.external_id))
        ingest = bench_ingest(web_counts, args, token, bodies)
        delivery = bench_delivery(celery_counts, args, mapping_set, payloads, fake_url)
    finally:
        services.stop([fake])
    table = tables(ingest, delivery, args, settings.DELIVERY_BATCH_MAX_OBJECTS)
    print(table)
    if not args.no_docs:
        report.write_section(MARK_START, MARK_END, section(table, args))


if __name__ == "__main__":
    main()
