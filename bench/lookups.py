"""Benchmark: profile lookups from concurrent bots, beside a naive one-export-per-lookup client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench .venv/bin/python bench/lookups.py

Options: --users N (profiles at Braze, default 5,000), --lookups N (default 5,000), --bots N
(concurrent threads, default 50), --repeat-rate R (share of lookups that read a user the same
bot read before, default 0.8: a bot reads its user's profile at several turns of one
conversation), --rate N (export requests per minute, ours and the fake Braze's, default 250),
--no-docs, --smoke (200 users, 300 lookups, 5 bots; docs untouched). Set CACHE_URL to a Redis
URL to keep the cache and the export budget in Redis as production does (default: this
process's memory). The database named in DATABASE_URL is created if missing and migrated.

The fake Braze runs in its own process with ``--export-rate-limit <rate>/60``, holding
``--users`` profiles written through its /users/track. The same sequence of (bot, user)
lookups is made twice by ``--bots`` threads:
- ours: ``POST /api/v1/lookup/<slug>/`` in-process through Django's test client (the whole
  middleware, URL and DRF stack; the lookup log row included), three read rows;
- naive: ``export_users`` for that user's three fields, one request per lookup.
Reported: the answers by outcome, latency p50/p99 per outcome, Braze export requests per 1,000
lookups, Braze 429s, and the most export requests we counted in one minute (our budget's own
count, which must not pass ``--rate``).
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

from bench import report, services  # noqa: E402

MARK_START = "<!-- bench:lookups:start -->"
MARK_END = "<!-- bench:lookups:end -->"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bridge_bench"
KEY = "bench-lookup-key-0000"
FIELDS = ("first_name", "email", "custom_attributes")
HIT_GOAL_MS = 10.0
LIMITS = (
    "What limits these figures: under load, the 50 bots are threads of one Python process on "
    "this machine's 2 cores (shared with other work), so a hit's time is mostly its wait for "
    "the interpreter behind the other 49; the hit path itself is the one-bot figure (a Redis "
    "GET, the lookup log's INSERT, the API stack). In production each gunicorn worker serves "
    "its own requests. Misses wait for the batching window (20 ms) and the fake Braze's export; "
    "once our budget's minute is spent (250 requests), the rest answer `rate_limited_unknown` at "
    "once, never a 429. The naive client spends Braze's whole minute in its first 250 lookups "
    "and gets 429 for the rest."
)


def sequence(args) -> list[list[str]]:
    """Per bot, the users it looks up in order: mostly its recent users again, else a new one."""
    chooser = random.Random(7)
    per_bot = [[] for _ in range(args.bots)]
    for index in range(args.lookups):
        bot = per_bot[index % args.bots]
        if bot and chooser.random() < args.repeat_rate:
            bot.append(chooser.choice(bot[-5:]))
        else:
            bot.append(f"user-{chooser.randrange(args.users):05d}")
    return per_bot


def fill_braze(url: str, users: int) -> None:
    import requests

    names = ["Zoë", "José", "Ana Luíza", "Siân", "Kenji", "Lucía", "Inês"]
    for start in range(0, users, 75):
        batch = [
            {"external_id": f"user-{n:05d}", "first_name": names[n % len(names)],
             "email": f"user{n}@example.com", "tier": ["gold", "silver", "bronze"][n % 3]}
            for n in range(start, min(users, start + 75))
        ]  # fmt: skip
        answer = requests.post(f"{url}/users/track", json={"attributes": batch},
                               headers={"Authorization": f"Bearer {KEY}"}, timeout=10)  # fmt: skip
        answer.raise_for_status()


def setup(url: str) -> tuple[str, object]:
    from mappings.models import ApiClient, Environment, LookupField, MappingSet

    MappingSet.objects.filter(slug="bench-lookups").delete()
    Environment.objects.filter(name="bench-lookups").delete()
    environment = Environment.objects.create(name="bench-lookups", rest_endpoint=url)
    environment.store_api_key(KEY)
    mapping_set = MappingSet.objects.create(slug="bench-lookups", name="Bench lookups",
                                            environment=environment,
                                            identifier_source_path="user.id")  # fmt: skip
    rows = [("first_name", "first_name"), ("email", "email"), ("custom_attributes.tier", "tier")]
    for position, (field, name) in enumerate(rows):
        LookupField.objects.create(mapping_set=mapping_set, position=position, braze_field=field,
                                   bot_name=name)  # fmt: skip
    ApiClient.objects.filter(name="bench-lookups").delete()
    client = ApiClient(name="bench-lookups", rate_limit="1000000/min")
    token = client.issue_token()
    client.save()
    client.mapping_sets.add(mapping_set)
    return token, environment


def run_bots(per_bot: list[list[str]], one) -> list[tuple[str, float]]:
    """Every bot's lookups on its own thread; (outcome, milliseconds) per lookup."""
    results: list[tuple[str, float]] = []
    lock = threading.Lock()
    start = threading.Barrier(len(per_bot))

    def bot(users: list[str]) -> None:
        state = one()
        start.wait()
        mine = []
        for user in users:
            began = time.perf_counter()
            outcome = state(user)
            mine.append((outcome, (time.perf_counter() - began) * 1000))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=bot, args=(users,)) for users in per_bot]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def ours(token: str):
    def one():
        from django.test import Client

        http = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")

        def look_up(user: str) -> str:
            response = http.post("/api/v1/lookup/bench-lookups/", {"user": {"id": user}},
                                 content_type="application/json")  # fmt: skip
            return response.json()["outcome"]

        return look_up

    return one


def naive(url: str):
    def one():
        from mappings.delivery import braze

        def look_up(user: str) -> str:
            try:
                answer = braze.export_users(url, KEY, fields_to_export=FIELDS, external_ids=[user])
            except braze.BrazeError as error:
                return "braze_429" if error.status == 429 else "braze_error"
            return "found" if answer.users else "not_found"

        return look_up

    return one


def export_requests(braze_process_url: str) -> tuple[int, int]:
    """(export requests, of which 429) the fake Braze received, from its control endpoint."""
    import requests

    received = requests.get(f"{braze_process_url}/_fake/received", timeout=30).json()
    exports = [r for r in received if r["path"] == "/users/export/ids"]
    return len(exports), sum(1 for r in exports if r["status"] == 429)


def clear_received(url: str) -> None:
    import requests

    requests.delete(f"{url}/_fake/received", timeout=10)


def server_hit_times(environment) -> tuple[float, float]:
    """p50 and p99 of the hits' own time as logged: from the request's arrival (middleware) to
    the answer ready, whole milliseconds, without the HTTP client or the log row's insert."""
    from mappings.models import Lookup

    values = list(Lookup.objects.filter(environment=environment, outcome="hit")
                  .values_list("latency_ms", flat=True))  # fmt: skip
    return float(statistics.median(values or [0])), float(percentile(values, 0.99))


def one_bot_hits(token: str, user: str, count: int) -> tuple[float, float]:
    """p50 and p99 of ``count`` cache hits from a single bot, nothing else running: the hit
    path's own cost, apart from 50 threads taking turns on one interpreter."""
    look_up = ours(token)()
    look_up(user)
    times = []
    for _ in range(count):
        began = time.perf_counter()
        if look_up(user) != "hit":
            raise RuntimeError("a repeat of a cached user was not answered from the cache")
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), percentile(times, 0.99)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def summary(name: str, results, requests_made: int, refused: int) -> dict:
    by_outcome: dict[str, list[float]] = defaultdict(list)
    for outcome, ms in results:
        by_outcome[outcome].append(ms)
    return {
        "client": name,
        "lookups": len(results),
        "outcomes": Counter(outcome for outcome, _ in results),
        "latency": {o: (statistics.median(v), percentile(v, 0.99)) for o, v in by_outcome.items()},
        "requests": requests_made,
        "per_1000": requests_made * 1000 / max(1, len(results)),
        "refused": refused,
    }


def table(rows: list[dict]) -> str:
    lines = ["| client | outcome | lookups | p50 ms | p99 ms |", "|---|---|---:|---:|---:|"]
    for row in rows:
        for outcome, count in sorted(row["outcomes"].items()):
            p50, p99 = row["latency"][outcome]
            lines.append(f"| {row['client']} | {outcome} | {count:,} | {p50:.2f} | {p99:.2f} |")
    lines += ["", "| client | export requests | per 1,000 lookups | Braze 429s |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row['client']} | {row['requests']:,} | {row['per_1000']:.1f} | "
                     f"{row['refused']:,} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--repeat-rate", type=float, default=0.8)
    parser.add_argument("--rate", type=int, default=250)
    parser.add_argument("--alone", type=int, default=1000, help="hits timed from one bot alone")
    smoke = {"users": 200, "lookups": 300, "bots": 5, "alone": 20}
    args = report.parse_args(parser, smoke, argv)
    services.use_bench_settings(DEFAULT_DATABASE)
    os.environ["LOOKUP_EXPORT_RATE_PER_MINUTE"] = str(args.rate)
    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command

    from mappings.lookups import export_budget

    call_command("migrate", verbosity=0)
    per_bot = sequence(args)
    rows = []
    for name in ("ours", "naive"):
        # A fake Braze of its own per client: its export limit's minute starts afresh.
        process, url = services.start_fake_braze(KEY, "--export-rate-limit", f"{args.rate}/60")
        try:
            fill_braze(url, args.users)
            token, environment = setup(url)
            cache.clear()
            clear_received(url)
            results = run_bots(per_bot, ours(token) if name == "ours" else naive(url))
            made, refused = export_requests(url)
            rows.append(summary(name, results, made, refused))
            if name == "ours":
                rows[-1]["counted"] = export_budget.spent(environment.pk)
                rows[-1]["server_hit"] = server_hit_times(environment)
                rows[-1]["alone"] = one_bot_hits(token, per_bot[0][0], args.alone)
        finally:
            services.stop([process])
        print(f"{name}: {made} export requests for {len(results)} lookups", flush=True)
    text = table(rows)
    print(text)
    print(f"Our export requests counted in the last minute: {rows[0]['counted']} "
          f"(budget {args.rate})")  # fmt: skip
    print("Hits, server time from arrival (log): p50 {:.0f} ms, p99 {:.0f} ms".format(
        *rows[0]["server_hit"]))  # fmt: skip
    print("Hits from one bot alone: p50 {:.2f} ms, p99 {:.2f} ms".format(*rows[0]["alone"]))
    if not args.no_docs:
        write_docs(rows, args, text)
    return rows


def write_docs(rows: list[dict], args, text: str) -> None:
    when = datetime.date.today().isoformat()
    hit = rows[0]["latency"].get("hit", (0.0, 0.0))[1]
    body = (
        "## Profile lookups: our cache and batching beside a naive one-export-per-lookup "
        "client\n\n"
        f"Run `bench/lookups.py` ({when}; {report.machine()}; {args.users:,} users at the fake "
        f"Braze, {args.lookups:,} lookups from {args.bots} concurrent bots, repeat rate "
        f"{args.repeat_rate}, export budget {args.rate}/min, the fake's limit the same). "
        f"Cache hits from one bot alone (the hit path's own cost, whole request): p50 "
        f"{rows[0]['alone'][0]:.2f} ms, p99 {rows[0]['alone'][1]:.2f} ms. "
        f"Cache hits under load: p99 {hit:.2f} ms for the whole request through Django's "
        f"test client with {args.bots} threads sharing one process, p99 "
        f"{rows[0]['server_hit'][1]:.0f} ms "
        f"from arrival to answer as the lookup log measures it (goal < {HIT_GOAL_MS:.0f} ms "
        f"added); export requests counted in the minute: {rows[0]['counted']} of "
        f"{args.rate} allowed.\n\n{text}\n\n{LIMITS}\n"
    )
    report.write_section(MARK_START, MARK_END, body)


if __name__ == "__main__":
    main()
