"""The Delivery INSERT every ingest writes: our statement vs Django's ``save()``, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bridge_bench \
        .venv/bin/python bench/delivery_insert.py

Options: --size N inserts per way and round (default 3000), --rounds R (default 5), --no-docs,
--smoke (50 inserts, 1 round, docs untouched).
Three ways write the same realistic deliveries (the conversation as received, its Braze body),
alternating within each round, in one process, CPU time (``time.process_time``) per INSERT:
- ours: ``outbox.add`` (mappings/delivery/delivery_insert.py): the statement built once, each
  value prepared by its field, bound server-side on PostgreSQL;
- same statement, client-side binding: ours on Django's own cursor, which quotes every value
  (the whole conversation) into the statement's text;
- ``save(force_insert=True)``: the ORM's INSERT, compiled per row, values quoted client-side.
Prints medians and ratios, and rewrites its section of docs/benchmarks.md (unless --no-docs).
"""

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

from bench import report, services  # noqa: E402
from bench.delivery_drain import conversations  # noqa: E402

MARK_START = "<!-- bench:delivery-insert:start -->"
MARK_END = "<!-- bench:delivery-insert:end -->"
DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/bridge_bench"


def new_deliveries(mapping_set, size: int) -> list:
    from django.utils import timezone

    from mappings.models import Delivery

    return [
        Delivery(
            mapping_set=mapping_set,
            environment=mapping_set.environment,
            external_id=conversation["user"]["id"],
            received_payload=conversation,
            braze_payload={"attributes": [{"external_id": conversation["user"]["id"]}]},
            next_attempt_at=timezone.now(),
        )
        for conversation in conversations(size)
    ]


def ways() -> dict:
    from django.db import DEFAULT_DB_ALIAS, connections

    from mappings import row_insert
    from mappings.delivery import outbox
    from mappings.models import Delivery

    def client_side_binding(delivery: Delivery) -> None:
        db = connections[DEFAULT_DB_ALIAS]
        values = row_insert.prepared_values(db, delivery)
        with db.cursor() as cursor:
            cursor.execute(row_insert.insert_sql(Delivery, db.vendor), values)

    return {
        "ours (outbox.add)": outbox.add,
        "same statement, client-side binding": client_side_binding,
        "save(force_insert=True)": lambda delivery: delivery.save(force_insert=True),
    }


def measure(mapping_set, size: int, rounds: int) -> dict[str, list[float]]:
    """Microseconds of CPU per INSERT, per way, one figure per round."""
    from mappings.models import Delivery

    figures: dict[str, list[float]] = {name: [] for name in ways()}
    for way in ways().values():  # warm-up: the statement built, psycopg's prepared statement
        for delivery in new_deliveries(mapping_set, 20):
            way(delivery)
    for round_number in range(rounds):
        for name, way in ways().items():
            batch = new_deliveries(mapping_set, size)
            started = time.process_time()
            for delivery in batch:
                way(delivery)
            figures[name].append((time.process_time() - started) / size * 1e6)
        Delivery.objects.all().delete()
        print(f"round {round_number + 1}/{rounds} done", flush=True)
    return figures


def table(figures: dict[str, list[float]]) -> str:
    ours = statistics.median(figures["ours (outbox.add)"])
    lines = [
        "| way | CPU per INSERT (µs, median) | vs ours |",
        "|---|---:|---:|",
    ]
    for name, values in figures.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.0f} | {median / ours:.2f}x |")
    return "\n".join(lines)


def write_docs(text: str, args: argparse.Namespace) -> None:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(
        [
            "## The Delivery INSERT (`bench/delivery_insert.py`)",
            "",
            f"Run {when} · {report.machine()} · {args.size:,} realistic deliveries per way and "
            f"round (the conversation as received and its Braze body), {args.rounds} rounds, "
            "alternating, CPU time of the web process per INSERT.",
            "",
            text,
            "",
            "What it shows: every ingest writes one Delivery row. Building the statement once "
            "and binding its values server-side (no quoting of the conversation into the "
            "statement's text) is what separates ours from `save()`. "
            "The database's own share (the INSERT's execution) is not in these figures.",
        ]
    )
    report.write_section(MARK_START, MARK_END, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = report.parse_args(parser, {"size": 50, "rounds": 1})
    services.use_bench_settings(DEFAULT_DATABASE)
    django.setup()
    from django.core.management import call_command

    from bench.delivery_drain import setup_config

    call_command("migrate", verbosity=0)
    mapping_set = setup_config("http://127.0.0.1:9")
    figures = measure(mapping_set, args.size, args.rounds)
    text = table(figures)
    print(text)
    if not args.no_docs:
        write_docs(text, args)


if __name__ == "__main__":
    main()
