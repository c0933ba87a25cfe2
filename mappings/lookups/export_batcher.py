"""One export request for many lookups, within this process.

Two rules, both to spend fewer of Braze's 250 export requests a minute:

- single flight: a lookup of a user whose read is already queued or in flight waits for that
  read instead of starting its own (the bot asked twice, or two of its sessions at once);
- a short window: the first lookup of a group (one environment, one list of fields) opens a
  window of ``LOOKUP_BATCH_WINDOW_SECONDS``; the users looked up within it go in one request
  (up to Braze's 50, at which the request leaves at once).

The batcher knows nothing of Braze: a group's ``run(external_ids, deadline)`` does the request
and returns ``{external_id: user or None}``, or raises; every waiting lookup gets that result or
that exception through its ``Future``. The requests run on a small pool of threads kept for them (so
each keeps its keep-alive connection to Braze) and may outlive the lookups waiting for them (each
waits only until its own deadline): what a request reads still reaches the cache for the next
lookup.
"""

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MAX_IDS = 50  # Braze's most external ids and aliases per /users/export/ids request

Run = Callable[[list[str], float], dict[str, Any]]


@dataclass
class _Group:
    run: Run
    deadline: float
    waiting: dict[str, Future] = field(default_factory=dict)


class ExportBatcher:
    def __init__(
        self, window_seconds: Callable[[], float], max_ids: int = MAX_IDS, threads: int = 8
    ) -> None:
        self._window_seconds = window_seconds  # read per group, so a setting change applies
        self._max_ids = max_ids
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lookup-export")
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Group] = {}
        self._in_flight: dict[tuple[Hashable, str], Future] = {}

    def read(self, group_key: Hashable, external_id: str, deadline: float, run: Run) -> Future:
        """The future of ``external_id``'s read in ``group_key``: a shared one if it is already
        queued or in flight, else a new one in the group's open window."""
        with self._lock:
            shared = self._in_flight.get((group_key, external_id))
            if shared is not None:
                return shared
            future: Future = Future()
            self._in_flight[(group_key, external_id)] = future
            group, opened = self._open.get(group_key), False
            if group is None:
                group, opened = _Group(run, deadline), True
                self._open[group_key] = group
            group.waiting[external_id] = future
            group.deadline = max(group.deadline, deadline)
            full = len(group.waiting) >= self._max_ids
            if full:
                del self._open[group_key]
        if full:
            self._pool.submit(self._send, group_key, group)
        elif opened:
            self._pool.submit(self._close, group_key, group, self._window_seconds())
        return future

    def _close(self, group_key: Hashable, group: _Group, window: float) -> None:
        """The window ends: send the group, unless it filled up and went already."""
        time.sleep(window)
        with self._lock:
            if self._open.get(group_key) is not group:
                return
            del self._open[group_key]
        self._send(group_key, group)

    def _send(self, group_key: Hashable, group: _Group) -> None:
        ids = list(group.waiting)
        try:
            results = group.run(ids, group.deadline)
        except Exception as error:  # every waiting lookup gets it, to answer as it should
            for future in group.waiting.values():
                future.set_exception(error)
        else:
            for external_id, future in group.waiting.items():
                future.set_result(results.get(external_id))
        finally:
            with self._lock:
                for external_id, future in group.waiting.items():
                    if self._in_flight.get((group_key, external_id)) is future:
                        del self._in_flight[(group_key, external_id)]
