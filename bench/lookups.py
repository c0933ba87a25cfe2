"""Benchmark: profile lookups from concurrent bots, beside a naive one-export-per-lookup client.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench \\
        CACHE_URL=redis://127.0.0.1:6379/15 .venv/bin/python bench/lookups.py

Options: --users N (profiles at Braze, 5,000), --lookups N (5,000), --bots N (concurrent bots,
50), --load-processes N (the processes the bots run in, 5), --think-ms MIN-MAX (a bot's pause
after each answer, 200-1000), --baseline-share S (baseline requests per lookup, 0.5),
--repeat-rate R (share of lookups that read a user the same bot read before, 0.8: a bot reads
its user's profile at several turns of one conversation), --rate N (export requests per
minute, ours and the fake Braze's, 250), --web-workers N (gunicorn processes, 4 threads each,
4), --rounds N (time slices the added latency is taken in, 5), --alone N (hits and baseline
requests from one bot alone, 500), --no-docs, --smoke (200 users, 300 lookups, 5 bots in 2
processes, 0-20 ms think, 2 workers; docs untouched). DATABASE_URL (PostgreSQL) is created if
missing and migrated; CACHE_URL must be a Redis URL, as in production, so the profile cache
and the export budget are shared by every gunicorn worker; the benchmark clears that database.

Our side is served by gunicorn (``services.start_web``) on PostgreSQL and Redis; the fake Braze
runs in its own process with ``--export-rate-limit <rate>/60`` and ``--users`` profiles. The
bots run in load processes of their own (bench/lookup_bots.py): each bot has a keep-alive
connection and thinks between turns, so the offered load follows from --bots and --think-ms.
The same sequence of (bot, user) lookups is made by two clients, each against a fake Braze of
its own (its export minute starts afresh):
- ours: ``POST /api/v1/lookup/bench-lookups/`` (a conversation, three read rows). Mixed into
  the same bots' turns at random, with the same connections and pacing, is the baseline:
  the same conversation to ``/bench/bare-lookup/bench-lookups/`` (bench/bare_urls.py, served
  by the same gunicorn: settings bench.settings), a DRF view that goes through the same
  middleware, token authentication, throttle, mapping-set resolution and body parsing, then
  answers a fixed 200. What a hit costs more than that is what the lookup adds: the cache
  read, the mapping of the profile, the lookup log's INSERT and a longer answer. (Not the
  lookup route on a set without read rows: its 409 is logged as a WARNING, a cost a hit does
  not pay.)
- naive: ``POST /users/export/ids`` for that user's three fields, one request per lookup.
Each bot first makes a few warm-up turns (not counted). Reported: answers by outcome with
p50/p99; the added latency (hit minus baseline, per percentile) over the whole run and as the
median of --rounds time slices; the hits' time as the Lookup log measures it; offered and
achieved rates; Braze export requests per 1,000 lookups and Braze 429s; the most export
requests of ours Braze received in any 60 s. The run fails if that passes --rate.
"""

import argparse
import datetime
import json
import os
import random
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The service's settings and URLs plus the baseline view (bench/bare_urls.py), here and in the
# gunicorn processes started from here.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

import django  # noqa: E402

from bench import lookup_bots, report, services  # noqa: E402
from bench import lookup_figures as figures  # noqa: E402
from bench.delivery_drain import conversations  # noqa: E402 - realistic conversation bodies

MARK_START = "<!-- bench:lookups:start -->"
MARK_END = "<!-- bench:lookups:end -->"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bridge_bench"
DEFAULT_CACHE = "redis://127.0.0.1:6379/15"
KEY = "bench-lookup-key-0000"
SLUG = "bench-lookups"
BASELINE = f"/bench/bare-lookup/{SLUG}/"  # bench/bare_urls.py's BareDrfLookup
WARM_USER = "user-warm"  # warm-up lookups read this user only, and are left out of the figures
WARM_TURNS = 3
ALONE_BLOCK = 25  # requests of one kind between two CPU readings, one bot alone
FIELDS = ("first_name", "email", "custom_attributes")
HIT_GOAL_MS = 10.0
LIMITS = """\
What limits these figures: the machine's two cores, which run everything here (gunicorn's
workers, PostgreSQL, Redis, the fake Braze, the bots' load processes) and other sessions' jobs
(the load average above). Under load both sides' p99 are mostly time spent waiting for a core:
the baseline's own p99 is several times its one-bot-alone p99. A hit costs about twice the
baseline's CPU (the CPU line), so it is preempted more often mid-request, and the added p99, the
difference of two such tails, moves with the machine's load. The one-bot-alone rows are the hit
path's own cost. What a hit adds to the baseline: the Redis GET of the profile (about 0.3 ms in
one process; Django's Redis backend builds a client object on every call), the mapping of the
profile into the bot's names and the longer answer, and the lookup log's row. A hit's row is
one statement, `SET LOCAL synchronous_commit TO OFF; INSERT ...`, which PostgreSQL runs as one
implicit transaction: one round trip, and no wait for the WAL flush. On 2026-12-02, on one
machine within 15 minutes: with the row written in a transaction of its own (BEGIN, SET, INSERT,
COMMIT: four round trips) the added p99 was 7.47 ms (time slices), the hit 3.54 ms of gunicorn
CPU and 0.66 ms of PostgreSQL; with the one statement, 3.09 ms, 1.84 and 0.30 in the next run,
and 5.11 ms, 2.56 and 0.44 in the one after (the run above is a later one, after the fake
Braze's profile index, which changes misses, not hits).
The INSERT-alone row is a committed INSERT that does wait for the disk, as a miss's row and every
delivery still do (a busy disk shows there first). The server time from the lookup log stops
before that INSERT, so it is lower than the added time.
How it scales: each gunicorn worker serves its own connections and a hit shares only one Redis
GET and one PostgreSQL commit with the others, so more cores or machines add hits per second;
the primary's commits (one per lookup) are the next bound. Misses wait for the batching window
(20 ms, per worker process: 4 workers batch apart, fewer users per export than one process
would put together) and the fake Braze's export. Once the budget's sliding minute is spent,
lookups of uncached users answer `rate_limited_unknown` at once, never a 429, and the budget
comes back a slot (6 s) at a time: our export requests run at 250 a minute, never more in any
60 s at Braze. (Our budget's own count can read a request or two over 250 for a moment: it
counts, then gives back what it refuses.) The naive client spends Braze's minute in its first
seconds and gets 429 for the rest."""
SMOKE = {"users": 200, "lookups": 300, "bots": 5, "load_processes": 2, "think_ms": "0-20",
         "web_workers": 2, "rounds": 2, "alone": 20}  # fmt: skip


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


class Bodies:
    """A bot's conversation for a user: nested JSON with unicode names and typed-in phone
    numbers (bench/delivery_drain.py's), the user's id put where the mapping set reads it."""

    def __init__(self) -> None:
        self._templates = conversations(200)

    def conversation(self, user: str, n: int) -> bytes:
        body = dict(self._templates[n % len(self._templates)])
        body["user"] = {**body["user"], "id": user}
        return json.dumps(body, ensure_ascii=False).encode()

    @staticmethod
    def export(user: str) -> bytes:
        return json.dumps({"external_ids": [user], "fields_to_export": [*FIELDS, "external_id"]
                           }).encode()  # fmt: skip


def our_turns(per_bot: list[list[str]], args) -> list[list[lookup_bots.Turn]]:
    """Each bot's lookups with baseline requests dealt in among them at random, after a few
    warm-up turns of both."""
    bodies, chooser, bots = Bodies(), random.Random(11), []
    lookup, base = f"/api/v1/lookup/{SLUG}/", BASELINE
    for number, users in enumerate(per_bot):
        turns = [("lookup", lookup, bodies.conversation(u, n), True) for n, u in enumerate(users)]
        for _ in range(round(len(users) * args.baseline_share)):
            body = bodies.conversation(chooser.choice(users), number)
            turns.insert(chooser.randrange(len(turns) + 1), ("baseline", base, body, True))
        warm = bodies.conversation(WARM_USER, number)
        bots.append([("lookup", lookup, warm, False), ("baseline", base, warm, False)]
                    * WARM_TURNS + turns)  # fmt: skip
    return bots


def naive_turns(per_bot: list[list[str]]) -> list[list[lookup_bots.Turn]]:
    return [[("export", "/users/export/ids", Bodies.export(u), True) for u in users]
            for users in per_bot]  # fmt: skip


def fill_braze(url: str, users: int) -> None:
    import requests

    names = ["Zoë", "José", "Ana Luíza", "Siân", "Kenji", "Lucía", "Inês"]
    ids = [f"user-{n:05d}" for n in range(users)] + [WARM_USER]
    for start in range(0, len(ids), 75):
        batch = [
            {"external_id": external_id, "first_name": names[n % len(names)],
             "email": f"user{n}@example.com", "tier": ["gold", "silver", "bronze"][n % 3]}
            for n, external_id in enumerate(ids[start:start + 75], start)
        ]  # fmt: skip
        answer = requests.post(f"{url}/users/track", json={"attributes": batch},
                               headers={"Authorization": f"Bearer {KEY}"}, timeout=10)  # fmt: skip
        answer.raise_for_status()


def setup(url: str) -> tuple[str, object]:
    """The environment, the mapping set with three read rows and a client allowed it, with a
    limit the bench never reaches; the client's token."""
    from mappings.models import ApiClient, Environment, LookupField, MappingSet

    MappingSet.objects.filter(slug=SLUG).delete()
    MappingSet.objects.filter(environment__name="bench-lookups").delete()
    Environment.objects.filter(name="bench-lookups").delete()
    environment = Environment.objects.create(name="bench-lookups", rest_endpoint=url)
    environment.store_api_key(KEY)
    mapping_set = MappingSet.objects.create(slug=SLUG, name="Bench lookups",
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


def plans(url: str, headers: dict, bots: list, args) -> list[lookup_bots.Plan]:
    low, _, high = args.think_ms.partition("-")
    think = (float(low), float(high or low))
    return [lookup_bots.Plan(url, headers, group, think, seed)
            for seed, group in enumerate(lookup_bots.split(bots, args.load_processes))]  # fmt: skip


class BudgetWatch:
    """The export budget's own count for the environment, read every half second during a
    run (the count is a sliding minute, so the most it showed is the most we ever spent)."""

    def __init__(self, environment_id: int) -> None:
        self.most, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(environment_id,), daemon=True)

    def _watch(self, environment_id: int) -> None:
        from mappings.lookups import export_budget

        while True:  # a last reading after the stop, so the run's end is read too
            stopping = self._stop.wait(0.5)
            self.most = max(self.most, export_budget.spent(environment_id))
            if stopping:
                return

    def __enter__(self) -> "BudgetWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def exports_received(url: str) -> tuple[int, int, int]:
    """(export requests, of which 429, the most in any 60 s) the fake Braze received."""
    import requests

    received = requests.get(f"{url}/_fake/received", timeout=30).json()
    exports = [r for r in received if r["path"] == "/users/export/ids"]
    times = sorted(r["received_at"] for r in exports)
    start, most = 0, 0
    for end, at in enumerate(times):  # a sliding 60 s window over the arrival times
        while at - times[start] >= 60:
            start += 1
        most = max(most, end - start + 1)
    return len(exports), sum(1 for r in exports if r["status"] == 429), most


def clear_received(url: str) -> None:
    import requests

    requests.delete(f"{url}/_fake/received", timeout=10)


def server_hit_times(environment, since: datetime.datetime) -> tuple[float, float]:
    """p50 and p99 of the hits' own time as logged: from the request's arrival (middleware) to
    the answer ready, whole milliseconds, without the HTTP client or the log row's insert."""
    from mappings.models import Lookup

    hits = Lookup.objects.filter(environment=environment, outcome="hit", created_at__gte=since)
    values = list(hits.exclude(external_id=WARM_USER).values_list("latency_ms", flat=True))
    return figures.p50_p99([float(value) for value in values])


def alone(web, url: str, token: str, count: int) -> dict:
    """One bot alone, no think time, nothing else running: blocks of hits and of baseline
    requests in turn, ``count`` of each. The hit path's own cost apart from the 50 bots' load,
    and the CPU gunicorn and PostgreSQL spent per request of each kind."""
    from django.db import connection as db

    connection, database = lookup_bots.Connection(url), db.settings_dict["NAME"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = Bodies().conversation(WARM_USER, 0)
    sides = {"hit": ("lookup", f"/api/v1/lookup/{SLUG}/"), "baseline": ("baseline", BASELINE)}
    times = {name: [] for name in sides}
    cpu = {name: {"web": 0.0, "db": 0.0} for name in sides}
    for start in range(0, count, ALONE_BLOCK):
        for name, (kind, path) in sides.items():
            before = services.cpu_by_process(web, database)
            for _ in range(min(ALONE_BLOCK, count - start)):
                began = time.perf_counter()
                status, answer = connection.post(path, body, headers)
                times[name].append((time.perf_counter() - began) * 1000)
                if (said := lookup_bots.outcome(kind, status, answer)) != name:
                    raise SystemExit(f"one bot alone: a {kind} answered {said}")
            used = services.cpu_used(before, services.cpu_by_process(web, database))
            for role, seconds in used.items():
                cpu[name][role] += seconds * 1000 / count
    connection.close()
    hit, base = figures.p50_p99(times["hit"]), figures.p50_p99(times["baseline"])
    return {"hit": hit, "base": base, "added": (hit[0] - base[0], hit[1] - base[1]), "cpu": cpu}


def log_insert_times(environment, count: int) -> tuple[float, float]:
    """p50 and p99 of the lookup log's row alone, written as a hit writes it (the ORM's create
    in autocommit, so each waits for its commit), on this database now; then deleted."""
    from mappings.models import Lookup, MappingSet

    mapping_set, times = MappingSet.objects.get(slug=SLUG), []
    for _ in range(count):
        began = time.perf_counter()
        Lookup.objects.create(
            mapping_set=mapping_set, environment=environment, external_id="bench-insert",
            fields=list(FIELDS), outcome="hit",
        )  # fmt: skip
        times.append((time.perf_counter() - began) * 1000)
    Lookup.objects.filter(environment=environment, external_id="bench-insert").delete()
    return figures.p50_p99(times)


def run_ours(per_bot: list[list[str]], args) -> dict:
    """Our side: gunicorn on PostgreSQL and Redis, its own fake Braze, the bots' lookups and
    baseline requests; then one bot alone."""
    from django.core.cache import cache
    from django.db import connection
    from django.utils import timezone

    fake, fake_url = services.start_fake_braze(KEY, "--export-rate-limit", f"{args.rate}/60")
    processes = [fake]
    try:
        fill_braze(fake_url, args.users)
        token, environment = setup(fake_url)
        cache.clear()
        clear_received(fake_url)
        web, url = services.start_web(args.web_workers)
        processes.append(web)
        since, database = timezone.now(), connection.settings_dict["NAME"]
        bots = plans(url, {"Authorization": f"Bearer {token}"}, our_turns(per_bot, args), args)
        cpu_before = services.cpu_by_process(web, database)
        with BudgetWatch(environment.pk) as watch:
            results, reconnects, started, ended = lookup_bots.run(bots)
        cpu = services.cpu_used(cpu_before, services.cpu_by_process(web, database))
        row = figures.summary("ours", results, *exports_received(fake_url))
        row |= {"counted": watch.most, "server_hit": server_hit_times(environment, since),
                "added": figures.added(results, args.rounds), "reconnects": reconnects,
                "rates": figures.rates(results, started, ended, args),
                "cpu_ms": {k: v * 1000 / row["requests_measured"] for k, v in cpu.items()},
                "alone": alone(web, url, token, args.alone),
                "insert": log_insert_times(environment, args.alone)}  # fmt: skip
    finally:
        services.stop(processes)
    return row


def run_naive(per_bot: list[list[str]], args) -> dict:
    """The naive client: the same bots, pacing and users, one export request per lookup."""
    fake, fake_url = services.start_fake_braze(KEY, "--export-rate-limit", f"{args.rate}/60")
    try:
        fill_braze(fake_url, args.users)
        clear_received(fake_url)
        bots = plans(fake_url, {"Authorization": f"Bearer {KEY}"}, naive_turns(per_bot), args)
        results, *_ = lookup_bots.run(bots)
        return figures.summary("naive", results, *exports_received(fake_url))
    finally:
        services.stop([fake])


def check(rows: list[dict], rate: int) -> None:
    """A broken run gives no figures: any answer the bench did not expect, or our exports over
    the budget (Braze's count in any 60 s, or a 429 from it)."""
    for row in rows:
        odd = [o for o in row["outcomes"] if o.startswith(("http_", "error", "braze_error"))]
        if odd:
            raise SystemExit(f"{row['client']}: unexpected answers {odd}")
    ours = rows[0]
    if ours["most_in_60s"] > rate or ours["refused"]:
        raise SystemExit(f"OVER BUDGET: {ours['most_in_60s']} export requests in 60 s, "
                         f"{ours['refused']} Braze 429s (budget {rate}/min)")  # fmt: skip


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in (("--users", 5000), ("--lookups", 5000), ("--bots", 50),
                          ("--load-processes", 5), ("--rate", 250), ("--web-workers", 4),
                          ("--rounds", 5), ("--alone", 500)):  # fmt: skip
        parser.add_argument(name, type=int, default=default)
    parser.add_argument("--repeat-rate", type=float, default=0.8)
    parser.add_argument("--baseline-share", type=float, default=0.5)
    parser.add_argument("--think-ms", default="200-1000", help="MIN-MAX pause after an answer")
    args = report.parse_args(parser, SMOKE, argv)
    services.use_bench_settings(DEFAULT_DATABASE)
    os.environ.setdefault("CACHE_URL", DEFAULT_CACHE)
    if urlparse(os.environ["CACHE_URL"]).scheme not in ("redis", "rediss"):
        raise SystemExit("CACHE_URL must be Redis: every gunicorn worker shares the cache")
    os.environ["LOOKUP_EXPORT_RATE_PER_MINUTE"] = str(args.rate)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load_before = os.getloadavg()
    per_bot = sequence(args)
    rows = [run_ours(per_bot, args)]
    print(f"ours: {rows[0]['requests']} export requests for {rows[0]['lookups']} lookups")
    rows.append(run_naive(per_bot, args))
    print(f"naive: {rows[1]['requests']} export requests for {rows[1]['lookups']} lookups")
    loads = (load_before, os.getloadavg())
    text = f"{figures.table(rows)}\n\n{figures.added_table(rows[0])}"
    print(text)
    print(figures.rate_line(rows[0]))
    print(
        f"Our export requests: Braze received at most {rows[0]['most_in_60s']} in any 60 s; "
        f"our budget's count peaked at {rows[0]['counted']} (refused requests counted for a "
        f"moment included) (budget {args.rate})"
    )
    print(f"Load average (1 min) before / after: {loads[0][0]:.2f} / {loads[1][0]:.2f}")
    check(rows, args.rate)
    if not args.no_docs:
        write_docs(rows, args, text, loads)
    return rows


def write_docs(rows: list[dict], args, text: str, loads) -> None:
    ours, when = rows[0], datetime.date.today().isoformat()
    p99 = ours["added"]["slice_added"][1]
    body = (
        "## Profile lookups: our cache and batching beside a naive one-export-per-lookup "
        "client\n\n"
        f"Run `bench/lookups.py` ({when}; {report.machine()}; Redis as the cache; gunicorn "
        f"with {args.web_workers} workers of 4 threads; {args.users:,} users at the fake Braze, "
        f"{args.lookups:,} lookups from {args.bots} bots in {args.load_processes} load processes, "
        f"think time {args.think_ms} ms, repeat rate {args.repeat_rate}, "
        f"{args.baseline_share} baseline requests per lookup mixed in, export budget "
        f"{args.rate}/min, the fake's limit the same). Load average (1 min) "
        f"{loads[0][0]:.2f} before, {loads[1][0]:.2f} after ({_quiet_or_not(loads)}). "
        f"{figures.rate_line(ours)} Cache-hit latency added to the request: p99 "
        f"{p99:.2f} ms (median of the time slices; goal < {HIT_GOAL_MS:.0f} ms: "
        f"{'met' if p99 < HIT_GOAL_MS else 'missed'} in this run). Our "
        f"export requests: at most {ours['most_in_60s']} in any 60 s at Braze, "
        f"{ours['refused']} 429s; our budget's count peaked at {ours['counted']} "
        f"(budget {args.rate}).\n\n{text}\n\n{LIMITS}\n"
    )
    report.write_section(MARK_START, MARK_END, body)


def _quiet_or_not(loads) -> str:
    busiest = max(load[0] for load in loads)
    if busiest < 1.0:
        return "a quiet machine: nothing else ran"
    return "other work ran on the machine: run again on a quieter one to compare"


if __name__ == "__main__":
    main()
