"""Run the fake Braze on its own.

    python -m mappings.fake_braze --host 127.0.0.1 --port 9011 --api-key KEY [--api-key KEY2]
        [--rate-limit 3000/3] [--export-rate-limit 250/60] [--key-without-track KEY3]

Prints one line, ``fake Braze listening on http://HOST:PORT``, then serves until SIGINT or
SIGTERM and exits 0. ``--port 0`` picks a free port (the printed line says which).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from . import rules
from .api_keys import EXPORT_PERMISSION
from .rate_limit import BRAZE_EXPORT_LIMIT
from .server import FakeBraze


def parse_rate_limit(text: str) -> tuple[int, float]:
    """``"3000/3"`` -> ``(3000, 3.0)``: requests per seconds."""
    limit, _, seconds = text.partition("/")
    try:
        return int(limit), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError("use LIMIT/SECONDS, for example 3000/3") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mappings.fake_braze", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9011)
    parser.add_argument("--api-key", action="append", required=True, dest="api_keys")
    parser.add_argument("--max-objects", type=int, default=rules.MAX_OBJECTS)
    parser.add_argument("--limit-mode", choices=rules.LIMIT_MODES, default="total")
    parser.add_argument("--rate-limit", type=parse_rate_limit, default=None, metavar="N/SECONDS")
    parser.add_argument(
        "--export-rate-limit",
        type=parse_rate_limit,
        default=BRAZE_EXPORT_LIMIT,
        metavar="N/SECONDS",
        help="the limit of /users/export/ids (default 250/60)",
    )
    parser.add_argument(
        "--key-without-track",
        action="append",
        default=[],
        dest="keys_without_track",
        metavar="KEY",
        help="a key of the workspace without the users.track permission (answered 403)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fake = FakeBraze(
        api_keys=args.api_keys,
        host=args.host,
        port=args.port,
        max_objects=args.max_objects,
        rate_limit=args.rate_limit,
        limit_mode=args.limit_mode,
        export_rate_limit=args.export_rate_limit,
        key_permissions={key: [EXPORT_PERMISSION] for key in args.keys_without_track},
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    fake.start()
    print(f"fake Braze listening on {fake.url}", flush=True)
    while not stopping.wait(0.5):  # a timed wait, so the signal handler always gets to run
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
