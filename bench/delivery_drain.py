"""Delivery stage benchmark: drain 10,000 deliveries from the outbox vs one call per conversation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench \
        .venv/bin/python bench/delivery_drain.py

Options: --size N (default 10000), --rounds R (default 3), --workers W (default 2), --no-docs,
--smoke (300 records, 1 round, 1 worker, docs untouched).
The database named in DATABASE_URL is created if missing and migrated. A local fake Braze runs
as its own process. Each round, alternating:
- project: W worker processes (``manage.py run_delivery_worker``, as in production without a
  broker) are started and idle; N accepted deliveries (Delivery rows, as ingest writes them) are
  put in the outbox in one transaction (not timed); the clock runs from that commit until no
  delivery is open (claim, pack up to 75 objects per request, write the request's attempt rows,
  send, record every outcome). The workers
  are then stopped, so they take no CPU from the baseline;
- baseline: the partner page's approach over the same payloads: one synchronous /users/track
  call per conversation, from this process.
Prints medians and ratios, and rewrites its section of docs/benchmarks.md (unless --no-docs).
"""

import argparse
import datetime
import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

from bench import report, services  # noqa: E402

FIRST = ["Zoë", "José", "Ana-María", "Jürgen", "Łukasz", "Siobhán", "Nguyễn", "أحمد", "Chloé"]
CITY = ["Lisbon", "São Paulo", "München", "Kraków", "Reykjavík", "東京", None]
PHONES = ["+1 (415) 555-2671", "0044 20 7946 0958", "+49 30 901820", "555.123.4567", ""]
API_KEY = "bench-key-0000-aaaa"
MARK_START = "<!-- bench:delivery-drain:start -->"
MARK_END = "<!-- bench:delivery-drain:end -->"


def conversations(size: int) -> list[dict]:
    rng = random.Random(7)
    out = []
    for n in range(size):
        answers = {"city": rng.choice(CITY), "phone": rng.choice(PHONES)}
        if rng.random() < 0.3:
            answers.pop("phone")  # optional fields missing
        out.append(
            {
                "session": {"id": f"s-{n}", "started": "2026-11-20T10:15:00Z"},
                "user": {
                    "id": f"user-{n}",
                    "profile": {"email": f"user{n}@example.com", "first_name": rng.choice(FIRST)},
                },
                "answers": answers,
                "transcript": [{"from": "bot", "text": "Hi!"}, {"from": "user", "text": "Olá"}],
            }
        )
    return out


def clear_received(url: str) -> int:
    import requests

    return requests.delete(f"{url}/_fake/received", timeout=30).json()["deleted"]


def setup_config(url: str):
    from mappings.models import Environment, FieldMapping, MappingSet

    environment, _ = Environment.objects.update_or_create(
        name="bench", defaults={"rest_endpoint": url}
    )
    environment.store_api_key(API_KEY)
    mapping_set, _ = MappingSet.objects.update_or_create(
        slug="bench",
        defaults={"name": "Bench", "environment": environment, "identifier_source_path": "user.id"},
    )
    mapping_set.rows.all().delete()
    rows = [("user.profile.email", "email"), ("user.profile.first_name", "first_name"),
            ("answers.city", "home_city"), ("answers.phone", "phone")]  # fmt: skip
    for position, (source, target) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=source, target_attribute=target
        )
    return mapping_set


def empty_outbox() -> None:
    from mappings.models import Delivery, DeliveryAttempt

    DeliveryAttempt.objects.all().delete()
    Delivery.objects.all().delete()


def fill_outbox(mapping_set, payloads: list[dict]) -> None:
    """Accepted deliveries, as ingest leaves them: Delivery rows only (not timed). The workers
    write each attempt row when they send it, so that write is part of the timed drain.

    One transaction, so workers see the whole outbox at once.
    """
    from django.db import transaction
    from django.utils import timezone

    with transaction.atomic():
        _insert(mapping_set, payloads, timezone.now())
    refresh_statistics()


def refresh_statistics() -> None:
    """Each round deletes and refills the tables; fresh planner statistics (autovacuum's job in
    production) keep a round from being planned on the previous round's dead rows."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE mappings_delivery, mappings_deliveryattempt")


def _insert(mapping_set, payloads: list[dict], now) -> None:
    from mappings.models import Delivery

    deliveries = [
        Delivery(
            mapping_set=mapping_set,
            environment=mapping_set.environment,
            external_id=ext,
            received_payload=conv,
            braze_payload=payload,
            mapping_version=1,
            next_attempt_at=now,
        )
        for conv, payload, ext in payloads
    ]
    Delivery.objects.bulk_create(deliveries, batch_size=1000)


def wait_until_drained(timeout: float = 600.0) -> None:
    from mappings.models import Delivery
    from mappings.models.audit import OPEN_STATUSES

    deadline = time.perf_counter() + timeout
    while Delivery.objects.filter(status__in=OPEN_STATUSES).exists():
        if time.perf_counter() > deadline:
            raise RuntimeError("the outbox did not drain")
        time.sleep(0.02)


def run_project(mapping_set, payloads: list[dict], workers: int) -> float:
    empty_outbox()
    processes = services.start_delivery_workers(workers)
    try:
        fill_outbox(mapping_set, payloads)
        started = time.perf_counter()
        wait_until_drained()
        elapsed = time.perf_counter() - started
    finally:
        services.stop(processes)
    from mappings.models import Delivery

    delivered = Delivery.objects.filter(status="delivered").count()
    if delivered != len(payloads):
        raise RuntimeError(f"only {delivered} of {len(payloads)} deliveries were delivered")
    return elapsed


def run_baseline(url: str, payloads: list[dict]) -> float:
    from mappings.delivery import braze

    started = time.perf_counter()
    for _, payload, _ in payloads:
        braze.track_users(url, API_KEY, payload)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    args = report.parse_args(parser, {"size": 300, "rounds": 1, "workers": 1}, argv)
    services.use_bench_settings("postgres://postgres@127.0.0.1:5432/bridge_bench")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from mappings.engine.mapping import build_payload

    call_command("migrate", verbosity=0)
    fake, url = services.start_fake_braze(API_KEY)
    try:
        mapping_set = setup_config(url)
        spec = mapping_set.to_spec()
        payloads = []
        for conv in conversations(args.size):
            result = build_payload(spec, conv)
            payloads.append((conv, result.payload, result.external_id))
        objects = sum(len(p.get("attributes", [])) for _, p, _ in payloads)
        project, baseline, project_requests, baseline_requests = [], [], [], []
        run_project(mapping_set, payloads[: min(500, args.size)], args.workers)  # warm-up
        run_baseline(url, payloads[:200])
        clear_received(url)
        for _ in range(args.rounds):
            project.append(args.size / run_project(mapping_set, payloads, args.workers))
            project_requests.append(clear_received(url))
            baseline.append(args.size / run_baseline(url, payloads))
            baseline_requests.append(clear_received(url))
    finally:
        services.stop([fake])
    limit = settings.DELIVERY_BATCH_MAX_OBJECTS
    ideal = math.ceil(objects / limit)
    p_rate, b_rate = statistics.median(project), statistics.median(baseline)
    p_req, b_req = statistics.median(project_requests), statistics.median(baseline_requests)
    table = "\n".join(
        [
            "| approach | records/s (median) | Braze requests | requests per 1,000 records |",
            "|---|---|---|---|",
            f"| outbox drained by {args.workers} worker processes, batched | {p_rate:,.0f} "
            f"| {p_req:,.0f} "
            f"| {p_req * 1000 / args.size:.1f} |",
            f"| baseline: one sync call per conversation | {b_rate:,.0f} | {b_req:,.0f} "
            f"| {b_req * 1000 / args.size:.1f} |",
        ]
    )
    summary = (
        f"Throughput ratio project/baseline: {p_rate / b_rate:.1f}x. Rounds (records/s): project "
        f"{', '.join(f'{r:,.0f}' for r in project)}; baseline "
        f"{', '.join(f'{r:,.0f}' for r in baseline)}. "
        f"Requests: {p_req:.0f} for {objects:,} objects, ideal ceil(objects/{limit}) = {ideal} "
        f"(+{(p_req - ideal) * 100 / ideal:.1f}%)."
    )
    print(table)
    print(summary)
    if args.no_docs:
        return
    report.write_section(
        MARK_START,
        MARK_END,
        f"## Delivery stage: draining the outbox\n\n"
        f"`DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench "
        f".venv/bin/python bench/delivery_drain.py` "
        f"(size {args.size:,}, {args.rounds} rounds, medians; run "
        f"{datetime.date.today().isoformat()}; {report.machine()}).\n\n"
        f"{table}\n\n{summary}\n\n"
        "Goals: >= 5,000 records/s drained; requests = ceil(objects / limit) + at most 5%.\n\n"
        f"Project side: {args.workers} `manage.py run_delivery_worker` processes (the broker-less "
        "engine; Celery workers run the same drain loop), started and idle before the outbox is "
        "filled in one transaction with Delivery rows as ingest writes them (no attempt rows: "
        "the workers insert those as they send, within the timed drain); the clock runs from "
        "that commit until no delivery is open "
        "(polled every 20 ms), and the workers are stopped before the baseline runs. Planner "
        "statistics are refreshed after each refill (untimed), as autovacuum does in production. "
        "Baseline: one `/users/track` call per conversation from the bench process, same data, "
        "same fake Braze, alternating with the project in each round.\n\n"
        "What limits it: CPU on a shared 2-core machine. Other sessions' test suites and "
        "benchmarks shared the CPU and the PostgreSQL server: the same code measured from 2,700 "
        "to 6,300 records/s per round in runs within one hour (the baseline 710-950), the "
        "project side suffering more because it needs both cores. Profiled with "
        "one worker over 6,000 records (cProfile and /proc CPU times): per record about 0.15 ms "
        "of worker CPU and 0.15-0.2 ms of PostgreSQL backend CPU, the fake Braze about 0.015 ms. "
        "PostgreSQL's share is mostly row writes: each delivery is written three times (lease, "
        "attempt count, outcome) and its attempt twice (inserted already stamped before the "
        "call, copied from the delivery row by one INSERT ... SELECT per request; answer "
        "after), each write touching the table's indexes. Per request of 75 records the "
        "worker makes two commits (the attempt rows before the call, the answer's two UPDATEs "
        "right after it), plus one per claim of 300 (locking SELECT + lease UPDATE; then "
        "the Braze bodies and the environment are read once). So 0.3-0.4 ms of CPU per record "
        "in all: two cores top out around "
        "5,000-6,500 records/s, and more worker processes here only add contention (3 did no "
        "better than 2 in a trial run); on "
        "more cores it scales with worker processes until PostgreSQL's write rate or Braze's "
        "rate limit (3,000 requests / 3 s = 75,000 records/s per workspace at 75 objects per "
        "request) is the bound. The baseline is bound by one HTTP round trip per record.\n",
    )


if __name__ == "__main__":
    main()
