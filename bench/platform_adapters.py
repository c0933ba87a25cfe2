"""Benchmark: each platform's webhook route against the generic ingest route, same conversation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench \
        .venv/bin/python bench/platform_adapters.py

Options: --requests N per way and round (default 200), --rounds R (default 10), --repeats N
(timeit runs of parse and respond, default 5), --platforms dialogflow-cx,rasa,... (default
all), --no-docs, --smoke (5 requests, 1 round, 1 timeit run, docs untouched).
The database named in DATABASE_URL is created if missing and migrated.

Per platform, one mapping set (the platform's first name, email, birth date and phone
parameters, read as ``bridge.parameters."<name>"``) serves three ways, interleaved request by
request in a rotating order, in async mode (``?mode=async``: stored in the outbox, Braze not
called, so its latency is not in the figures), in-process through Django's test client (the
whole middleware, URL and DRF stack, no socket: loopback HTTP and a server's threads would add
their noise to a difference of well under a millisecond):
- platform: ``POST /api/v1/platforms/<platform>/<slug>/`` with the platform's sample request
  (examples/platforms/), its turn id made distinct per request;
- generic: ``POST /api/v1/ingest/<slug>/`` with the conversation document the adapter made of
  that very request (``parse()`` once, before timing), no Idempotency-Key;
- generic + key: the same with a distinct Idempotency-Key, which the platform route takes from
  the turn id: it splits the adapter's own cost from the idempotency store's.
Every request is answered 200 (platform) or 202 (generic); before timing, the first request
of each way is checked to store the same Braze payload. ``adapter.parse`` and
``adapter.respond`` are also timed alone (timeit). Prints the table and rewrites its section
of docs/benchmarks.md (unless --no-docs).
"""

import argparse
import datetime
import gc
import os
import statistics
import sys
import time
import timeit
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

from bench import report, services  # noqa: E402

MARK_START = "<!-- bench:platform-adapters:start -->"
MARK_END = "<!-- bench:platform-adapters:end -->"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bridge_bench"
SAMPLES = ROOT / "examples" / "platforms"
GOAL_MS = 1.0
WARM_UP = 20  # requests per way before timing
WAYS = ("platform", "generic", "generic_key")
FORM = "application/x-www-form-urlencoded"

# Each sample's parameter names: first name, email, birth date (and its order), phone (region).
PARAMETERS = {
    "dialogflow-cx": ("given-name", "email", ("date-of-birth", "YMD"), ("phone", "BR")),
    "dialogflow-es": ("given-name", "email", ("date-of-birth", "YMD"), ("phone-number", "BR")),
    "rasa": ("first_name", "email", ("date_of_birth", "YMD"), ("phone", "PT")),
    "voiceflow": ("name", "email", ("birthday", "YMD"), ("phone", "JP")),
    "botpress": ("firstName", "email", ("birthDate", "DMY"), ("phone", "ES")),
    "pypestream": ("first_name", "email", ("date_of_birth", "DMY"), ("phone", "BR")),
    "twilio-studio": ("first_name", "email", ("date_of_birth", "DMY"), ("phone", "GB")),
    "lex-v2": ("FirstName", "Email", ("BirthDate", "YMD"), ("Phone", "BR")),
}


@dataclass
class Case:
    """One platform's requests, prepared before timing: the ``n``-th of each way is one turn."""

    platform: str
    slug: str
    platform_bodies: list[bytes]
    content_type: str
    conversations: list[bytes]  # what the adapter made of each platform body, as JSON


def sample(platform: str) -> tuple[bytes, str]:
    if platform == "twilio-studio":
        return (SAMPLES / platform / "request.txt").read_bytes().strip(), FORM
    return (SAMPLES / platform / "request.json").read_bytes(), "application/json"


def distinct_turns(platform: str, count: int) -> tuple[list[bytes], str]:
    """``count`` copies of the sample, each with its own turn id: the unique part of the turn
    id the adapter reads (the first of its parts) is rewritten in the body where it stands."""
    from mappings.platforms import ADAPTERS

    body, content_type = sample(platform)
    adapter = ADAPTERS[platform]
    unique = adapter.parse(_raw(body, content_type)).turn_id.split(":")[0].encode()
    if unique not in body:
        raise SystemExit(f"{platform}: the turn id {unique!r} is not in the sample as sent")
    bodies = [body.replace(unique, b"%s-%d" % (unique, n)) for n in range(count)]
    turns = {adapter.parse(_raw(b, content_type)).turn_id for b in bodies}
    if len(turns) != count:
        raise SystemExit(f"{platform}: {count} requests but {len(turns)} distinct turn ids")
    return bodies, content_type


def _raw(body: bytes, content_type: str):
    from mappings.platforms.base import RawRequest

    return RawRequest(body, content_type, {}, {})


def make_case(platform: str, environment, client, count: int) -> Case:
    import json

    from mappings.platforms import ADAPTERS

    slug = f"bench-{platform}"
    client.mapping_sets.add(mapping_set_for(platform, environment, slug))
    bodies, content_type = distinct_turns(platform, count)
    documents = [ADAPTERS[platform].parse(_raw(b, content_type)).conversation for b in bodies]
    conversations = [json.dumps(d, ensure_ascii=False).encode() for d in documents]
    return Case(platform, slug, bodies, content_type, conversations)


def mapping_set_for(platform: str, environment, slug: str):
    from mappings.models import FieldMapping, MappingSet

    first_name, email, (dob, order), (phone, region) = PARAMETERS[platform]
    defaults = {"name": slug, "environment": environment}
    mapping_set, _ = MappingSet.objects.update_or_create(
        slug=slug, defaults={**defaults, "identifier_source_path": "bridge.session"}
    )
    mapping_set.rows.all().delete()
    rows = [
        (first_name, "first_name", ["trim"]),
        (email, "email", ["trim", "lower"]),
        (dob, "dob", [{"name": "dob", "order": order}]),
        (phone, "phone", [{"name": "phone", "region": region}]),
    ]
    for position, (name, target, transforms) in enumerate(rows):
        FieldMapping.objects.create(
            mapping_set=mapping_set, position=position, source_path=f'bridge.parameters."{name}"',
            target_attribute=target, transforms=transforms,
        )  # fmt: skip
    return mapping_set


def senders(case: Case, http, token: str) -> dict:
    """Per way, a function that sends the ``n``-th request and checks its status."""
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    platform_url = f"/api/v1/platforms/{case.platform}/{case.slug}/?mode=async"
    generic_url = f"/api/v1/ingest/{case.slug}/?mode=async"
    run = f"{time.time_ns()}"  # keys unique across runs on the same database

    def post(url: str, body: bytes, content_type: str, expected: int, **headers):
        response = http.post(url, body, content_type=content_type, **auth, **headers)
        if response.status_code != expected:
            raise SystemExit(f"{case.platform} {url}: {response.status_code} {response.content}")

    return {
        "platform": lambda n: post(platform_url, case.platform_bodies[n], case.content_type, 200),
        "generic": lambda n: post(generic_url, case.conversations[n], "application/json", 202),
        "generic_key": lambda n: post(
            generic_url,
            case.conversations[n],
            "application/json",
            202,
            HTTP_IDEMPOTENCY_KEY=f"bench-{run}-{n}",
        ),
    }


def check_same_payload(case: Case, send: dict) -> None:
    """The first request of each way stores the same Braze payload: only the route differs."""
    from mappings.models import Delivery

    payloads = []
    for way in WAYS:
        send[way](0)
        newest = Delivery.objects.filter(mapping_set__slug=case.slug).order_by("-created_at")
        payloads.append(newest.first().braze_payload)
    if any(payload != payloads[0] for payload in payloads):
        raise SystemExit(f"{case.platform}: the ways stored different Braze payloads: {payloads}")


def measure(case: Case, send: dict, args) -> dict[str, list[list[float]]]:
    """Milliseconds per request, per way and round; the ways interleaved request by request,
    which of them goes first rotating, so drift and cache effects fall on all three alike."""
    for n in range(1, WARM_UP + 1):  # warm-up: caches, prepared statements
        for way in WAYS:
            send[way](n)
    times = {way: [] for way in WAYS}
    index = WARM_UP + 1  # every request its own turn: none is answered from the store
    for _ in range(args.rounds):
        empty_outbox()
        gc.collect()
        round_times = {way: [] for way in WAYS}
        for n in range(args.requests):
            order = WAYS[n % 3 :] + WAYS[: n % 3]
            for way in order:
                started = time.perf_counter()
                send[way](index)
                round_times[way].append((time.perf_counter() - started) * 1000)
            index += 1
        for way in WAYS:
            times[way].append(round_times[way])
    return times


def empty_outbox() -> None:
    """Outside the timing: a growing table would slow the later rounds' INSERTs."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE mappings_deliveryattempt, mappings_delivery")
        else:
            cursor.execute("DELETE FROM mappings_deliveryattempt")
            cursor.execute("DELETE FROM mappings_delivery")


def summary(platform: str, times: dict[str, list[list[float]]]) -> dict:
    """Per way the median of the rounds' p50 and the p99 of all requests; the added p50 and the
    ratio are medians of the per-round figures (each round's ways ran side by side)."""
    p50 = {way: [statistics.median(r) for r in rounds] for way, rounds in times.items()}
    row = {"platform": platform}
    for way, rounds in times.items():
        every = sorted(t for r in rounds for t in r)
        row[f"{way}_p50"] = statistics.median(p50[way])
        row[f"{way}_p99"] = every[min(len(every) - 1, int(len(every) * 0.99))]
    pairs = list(zip(p50["platform"], p50["generic"], p50["generic_key"], strict=True))
    row["added"] = statistics.median(a - b for a, b, _ in pairs)
    row["ratio"] = statistics.median(a / b for a, b, _ in pairs)
    row["added_key"] = statistics.median(a - c for a, _, c in pairs)
    return row


def pure_times(platform: str, repeats: int) -> dict[str, float]:
    """Microseconds per ``adapter.parse`` and ``adapter.respond`` of the sample: the median of
    ``repeats`` timeit runs of at least 0.2 s each."""
    from mappings.platforms import ADAPTERS
    from mappings.platforms.base import Outcome

    adapter = ADAPTERS[platform]
    raw = _raw(*sample(platform))
    parsed = adapter.parse(raw)
    outcome = Outcome(status="accepted", success=True, delivery_id="0" * 32)
    calls = {
        "parse": lambda: adapter.parse(raw),
        "respond": lambda: adapter.respond(outcome, parsed).content(),  # and its bytes
    }
    figures = {}
    for name, call in calls.items():
        timer = timeit.Timer(call)
        number, _ = timer.autorange()
        figures[name] = statistics.median(timer.repeat(repeats, number)) / number * 1e6
    return figures


def table(rows: list[dict]) -> str:
    lines = [
        "| platform | platform route p50 / p99 ms | generic p50 / p99 ms | added p50 ms "
        "| ratio | goal <= 1 ms | generic + key p50 ms | added vs + key ms "
        "| parse µs | respond µs |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        met = "met" if r["added"] <= GOAL_MS else "**missed**"
        lines.append(
            f"| {r['platform']} | {r['platform_p50']:.2f} / {r['platform_p99']:.2f} "
            f"| {r['generic_p50']:.2f} / {r['generic_p99']:.2f} | {r['added']:.2f} "
            f"| {r['ratio']:.2f}x | {met} | {r['generic_key_p50']:.2f} | {r['added_key']:.2f} "
            f"| {r['parse']:.0f} | {r['respond']:.0f} |"
        )
    return "\n".join(lines)


LIMITS = """\
What it measures and what limits it: the platform route does what the generic route does (the
same mapping, outbox INSERT and answer) plus the adapter (the body read as bytes and checked as
storable JSON, `parse`, `respond`, the answer's bytes) and, because the platform's turn id is
the idempotency key, the idempotency store: a fingerprint of the conversation, stored with the
row. A first turn costs the store no round trip of its own: the INSERT's unique (client, key)
constraint is what finds a repeat, and an async answer is written in that same INSERT
(mappings/ingest/conversations.py). The "generic + key" column is the generic route doing that
same idempotency work, so "added vs + key" is the adapter alone, and "parse" and "respond" are
its pure functions, timed apart from any route. Single-threaded, in process, on one core of a
shared 2-core machine; the database round trips to the local PostgreSQL are the largest share
of every request, so absolute figures move with the machine's load (given above), the added p50
less: the ways run side by side. The adapter's cost is per request and CPU only, so it scales
with web processes as the generic ingest does."""


def write_docs(rows: list[dict], args) -> None:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            "## Platform adapters: each platform's route beside the generic ingest route",
            "",
            f"`DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench .venv/bin/python "
            f"bench/platform_adapters.py` (run {when}; {report.machine()}; async mode, in "
            f"process through Django's test client, {args.requests} requests per way and round, "
            f"{args.rounds} rounds after a warm-up, the three ways interleaved request by "
            "request; p50: median of the rounds' p50, p99: over all requests; added p50 and "
            f"ratio: medians of the per-round figures; load average before and after the run: "
            f"{args.load_before:.1f} and {os.getloadavg()[0]:.1f}).",
            "",
            table(rows),
            "",
            f"Goal: the platform route adds at most {GOAL_MS:g} ms p50 to the generic route "
            "with the same conversation (added p50 = platform route p50 - generic p50).",
            "",
            LIMITS,
        ]
    )
    report.write_section(MARK_START, MARK_END, body)


def setup(platforms: list[str], count: int) -> tuple[list[Case], str]:
    from mappings.models import ApiClient, Environment

    environment, _ = Environment.objects.update_or_create(
        name="bench-platforms", defaults={"rest_endpoint": "http://127.0.0.1:9"}
    )  # async mode: Braze is never called
    environment.store_api_key("bench-key-0000-aaaa")
    ApiClient.objects.filter(name="bench-platforms").delete()
    client = ApiClient(name="bench-platforms", rate_limit="100000000/min")  # not the throttle
    token = client.issue_token()
    client.save()
    empty_outbox()  # no turn of an earlier run is in the idempotency store
    return [make_case(p, environment, client, count) for p in platforms], token


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5, help="timeit runs of parse, respond")
    parser.add_argument("--platforms", default=",".join(PARAMETERS))
    args = report.parse_args(parser, {"requests": 5, "rounds": 1, "repeats": 1}, argv)
    args.load_before = os.getloadavg()[0]
    services.use_bench_settings(DEFAULT_DATABASE)
    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    turns = 1 + WARM_UP + args.requests * args.rounds  # the check, the warm-up, the rounds
    cases, token = setup(args.platforms.split(","), turns)
    http = Client(HTTP_HOST="localhost")
    rows = []
    for case in cases:
        send = senders(case, http, token)
        check_same_payload(case, send)
        row = summary(case.platform, measure(case, send, args)) | pure_times(
            case.platform, args.repeats
        )
        rows.append(row)
        print(f"{case.platform}: added p50 {row['added']:.2f} ms ({row['ratio']:.2f}x)", flush=True)
    empty_outbox()
    text = table(rows)
    print(text)
    if not args.no_docs:
        write_docs(rows, args)
    return rows


if __name__ == "__main__":
    main()
