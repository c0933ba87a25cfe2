"""The mapping set's change page with 100 rows and 500 discovered paths: server time.

    .venv/bin/python bench/mapping_page.py             # 100 rows, 500 paths, 15 rounds
    .venv/bin/python bench/mapping_page.py --smoke     # 5 rows, 20 paths, 1 round, docs untouched

DATABASE_URL picks the database (default postgres://postgres@127.0.0.1:5432/bridge_bench; created
and migrated when missing). The set ``bench-mapping-page`` is written afresh each run. The page
is requested in-process through Django's test client (middleware, admin view, formset of the
rows with the row editor's widgets, the catalogue JSON, the datalist of paths, template): the
server's whole share; the browser's drawing is not in it. The goal is under 300 ms.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report, services  # noqa: E402 - after the path, so it also runs as a script

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bridge_bench"
MARK_START, MARK_END = "<!-- bench:mapping_page:start -->", "<!-- bench:mapping_page:end -->"
GOAL_MS = 300
SLUG = "bench-mapping-page"


def _setup_django() -> None:
    services.use_bench_settings(os.environ.get("DATABASE_URL", DEFAULT_URL))
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _fill(rows: int, paths: int):
    """A fresh set with ``rows`` rows (some with transforms) and ``paths`` seen paths."""
    from mappings.models import Environment, FieldMapping, MappingSet, SeenPath

    MappingSet.objects.filter(slug=SLUG).delete()
    environment, _ = Environment.objects.get_or_create(
        name="bench-mapping-page", defaults={"rest_endpoint": "https://rest.iad-01.braze.com"}
    )
    mapping_set = MappingSet.objects.create(
        slug=SLUG, name="Bench mapping page", environment=environment,
        identifier_source_path="user.id", identifier_transforms=["trim"],
    )  # fmt: skip
    steps = [[], ["trim"], ["trim", "lower"], [{"name": "phone", "region": "BR"}],
             [{"name": "lookup", "table": {"s": "yes", "n": "no"}}]]  # fmt: skip
    FieldMapping.objects.bulk_create(
        FieldMapping(
            mapping_set=mapping_set,
            position=n,
            source_path=f"answers.field_{n}",
            target_attribute=f"custom_{n}",
            transforms=steps[n % len(steps)],
        )
        for n in range(rows)
    )
    SeenPath.objects.bulk_create(
        SeenPath(mapping_set=mapping_set, path=f"answers.field_{n}", types=["string"])
        for n in range(paths)
    )
    return mapping_set


def _measure(mapping_set, rounds: int) -> tuple[list[float], int]:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-mapping-page", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    url = f"/admin/mappings/mappingset/{mapping_set.pk}/change/"
    client.get(url)  # warm: templates, the engine's catalogue, connections
    timings, size = [], 0
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        size = len(response.content)
    return timings, size


def _report(rows: int, paths: int, rounds: int, timings: list[float], size: int) -> str:
    median = statistics.median(timings)
    verdict = "under" if median < GOAL_MS else "OVER"
    return "\n".join([
        "## The mapping set page (`python bench/mapping_page.py`)",
        "",
        f"{report.machine()}, load average {os.getloadavg()[0]:.1f} at the end (other work on "
        f"the machine slows every figure). {rows} rows, {paths} discovered paths, {rounds} "
        "rounds, in-process through Django's test client (server time only).",
        "",
        "| page | median ms | fastest ms | slowest ms | HTML KB |",
        "|---|---|---|---|---|",
        f"| mapping set change page | {median:.0f} | {min(timings):.0f} | {max(timings):.0f} "
        f"| {size / 1024:.0f} |",
        "",
        f"Median {verdict} the {GOAL_MS} ms goal.",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--paths", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    args = report.parse_args(parser, {"rows": 5, "paths": 20, "rounds": 1}, argv)
    _setup_django()
    mapping_set = _fill(args.rows, args.paths)
    timings, size = _measure(mapping_set, args.rounds)
    section = _report(args.rows, args.paths, args.rounds, timings, size)
    print(section)
    mapping_set.delete()
    if not args.no_docs:
        report.write_section(MARK_START, MARK_END, section)


if __name__ == "__main__":
    main()
