"""What every benchmark shares about its run and its output: the ``--smoke`` and ``--no-docs``
switches, the machine line, and rewriting its own section of docs/benchmarks.md.

A smoke run takes the benchmark's whole code path at a tiny size, to prove it still works (the
test suite runs each one so); its figures mean nothing, so it never touches the docs.
"""

import argparse
import os
import platform
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
NEW_DOCS = "# Benchmarks\n\nWritten by the scripts in bench/.\n"


def parse_args(
    parser: argparse.ArgumentParser, smoke: dict[str, object], argv: list[str] | None = None
) -> argparse.Namespace:
    """Adds ``--smoke`` (the sizes in ``smoke`` where no option says otherwise, docs left alone)
    and ``--no-docs`` (also spelled ``--no-write``), then parses."""
    sizes = ", ".join(f"--{name.replace('_', '-')} {value}" for name, value in smoke.items())
    parser.add_argument(
        "--smoke", action="store_true", help=f"a tiny run that proves it works ({sizes}; no docs)"
    )
    parser.add_argument(
        "--no-docs", "--no-write", dest="no_docs", action="store_true",
        help="Do not rewrite docs/benchmarks.md",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.smoke:  # parsed again with the smoke sizes as defaults: options given still win
        parser.set_defaults(**smoke, no_docs=True)
        args = parser.parse_args(argv)
    return args


def machine(*, database: bool = True) -> str:
    """``Python 3.11.7, PostgreSQL 15.20, nproc 2``: what the figures were measured on."""
    parts = [f"Python {platform.python_version()}"]
    if database:
        parts.append(database_version())
    return ", ".join([*parts, f"nproc {len(os.sched_getaffinity(0))}"])


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def write_section(start: str, end: str, body: str) -> None:
    """Replaces what lies between the ``start`` and ``end`` markers in docs/benchmarks.md with
    ``body`` (appended, markers and all, when they are not there yet)."""
    section = f"{start}\n{body.strip()}\n{end}"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else NEW_DOCS
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")
