"""The bots of bench/lookups.py, driven from outside the server they measure.

Each load process (``multiprocessing``, spawned) runs a few bots, one thread each, and each bot
keeps one keep-alive ``http.client`` connection. A bot plays turns of conversations: it sends a
request, waits for the answer, then thinks (a random pause) before its next turn, as a bot
waits for its user's reply. So 50 bots offer a load set by their think time, not a closed loop
as fast as the server answers, and a load process holds only a few threads, mostly asleep: a
request's time is the server's answer, not the wait for this interpreter behind 49 others.

Only the standard library: a load process imports nothing of Django or the app.
"""

import http.client
import json
import multiprocessing
import queue
import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

# One request a bot sends: (kind, path, body, measured). ``kind`` names what the answer is
# read as ("lookup", "baseline", "export"); warm-up turns are not measured.
Turn = tuple[str, str, bytes, bool]
# One answer as measured: (kind, outcome, wall-clock start, milliseconds, measured).
Result = tuple[str, str, float, float, bool]


@dataclass(frozen=True)
class Plan:
    """What one load process runs: its bots' turns against ``url`` with these headers."""

    url: str
    headers: dict[str, str]
    bots: list[list[Turn]]
    think_ms: tuple[float, float]
    seed: int


class Connection:
    """One keep-alive HTTP/1.1 connection, opened again if the server closed it while idle."""

    def __init__(self, url: str) -> None:
        parts = urlparse(url)
        self._host, self._port = parts.hostname, parts.port
        self.reconnects = 0
        self._open()

    def _open(self) -> None:
        self._http = http.client.HTTPConnection(self._host, self._port, timeout=60)
        self._http.connect()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            return self._exchange(path, body, headers)
        except (http.client.RemoteDisconnected, ConnectionError):
            # An idle keep-alive the server let go: once more on a new connection (counted).
            self._http.close()
            self.reconnects += 1
            self._open()
            return self._exchange(path, body, headers)

    def _exchange(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        self._http.request("POST", path, body=body, headers=headers)
        response = self._http.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._http.close()


def outcome(kind: str, status: int, body: bytes) -> str:
    """What an answer says: our lookup's ``outcome`` (the baseline's is "baseline"), or how
    Braze answered an export."""
    if kind in ("lookup", "baseline") and status == 200:
        return json.loads(body)["outcome"]
    if kind == "export":
        if status == 429:
            return "braze_429"
        if 200 <= status < 300:
            return "found" if json.loads(body).get("users") else "not_found"
        return "braze_error"
    return f"http_{status}"


def _think(rng: random.Random, think_ms: tuple[float, float]) -> float:
    return rng.uniform(*think_ms) / 1000


def _bot(plan: Plan, turns: list[Turn], connection: Connection, rng: random.Random, out: list):
    """One bot's turns, each followed by its think time; the first one after a random part of
    a think, so the bots do not all speak at once."""
    time.sleep(_think(rng, (0.0, plan.think_ms[1])))
    headers = {**plan.headers, "Content-Type": "application/json"}
    for kind, path, body, measured in turns:
        started_at, began = time.time(), time.perf_counter()
        try:
            status, answer = connection.post(path, body, headers)
            said = outcome(kind, status, answer)
        except Exception as error:  # kept as an answer: the parent fails the run on it
            said = f"error {type(error).__name__}"
        elapsed = (time.perf_counter() - began) * 1000
        out.append((kind, said, started_at, elapsed, measured))
        time.sleep(_think(rng, plan.think_ms))


def run_plan(plan: Plan, ready, results) -> None:
    """A load process: connects every bot, waits at ``ready`` (a barrier with the parent), runs
    them, and puts (its results, its reconnects) on ``results``."""
    connections = [Connection(plan.url) for _ in plan.bots]
    outs: list[list[Result]] = [[] for _ in plan.bots]
    threads = [
        threading.Thread(
            target=_bot, args=(plan, turns, conn, random.Random(plan.seed * 1000 + n), out)
        )
        for n, (turns, conn, out) in enumerate(zip(plan.bots, connections, outs, strict=True))
    ]
    ready.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections:
        conn.close()
    results.put(([r for out in outs for r in out], sum(c.reconnects for c in connections)))


def run(plans: list[Plan]) -> tuple[list[Result], int, float, float]:
    """Every plan in a process of its own, started together once all are connected: every
    answer, the reconnects, and the wall-clock start and end of the run."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(len(plans) + 1), context.Queue()
    processes = [context.Process(target=run_plan, args=(p, ready, results)) for p in plans]
    for process in processes:
        process.start()
    ready.wait(timeout=120)
    started = time.time()
    collected, reconnects = [], 0
    for _ in processes:  # read before join: a child with a full pipe would never exit
        answers, again = _next(results, processes)
        collected += answers
        reconnects += again
    ended = time.time()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"a load process ended with exit code {process.exitcode}")
    return collected, reconnects, started, ended


def _next(results, processes: list) -> tuple[list[Result], int]:
    """The next load process's results, or a stop if one of them died without any."""
    while True:
        try:
            return results.get(timeout=1)
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):
                raise SystemExit("a load process died before reporting its results") from None


def split(bots: list[list[Turn]], processes: int) -> list[list[list[Turn]]]:
    """The bots dealt out over ``processes`` load processes, as evenly as they go."""
    count = max(1, min(processes, len(bots)))
    return [bots[n::count] for n in range(count)]
