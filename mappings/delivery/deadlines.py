"""A wall-clock deadline for a whole HTTP request made with requests.

requests' timeouts apply to each socket operation: a peer that sends its answer a byte at a
time restarts the read timeout with every byte and can hold a request for minutes. Here one
watch thread keeps the deadlines of the requests in flight; when one passes, it shuts down that
request's socket, so the blocked read returns at once and requests raises a connection error.

Which socket: the session's connection pools use connection classes that, as each request
starts on them, note themselves on the calling thread's pending cut. Imports nothing of the app
(the Braze client uses it, and knows no models).
"""

import contextlib
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Cut:
    """One request's deadline: ``fired`` once the watch has shut its connection down."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        self.finished = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            fired = self.fired
        if fired:  # the deadline passed before the request reached its connection
            _shut_down(connection)

    def fire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.fired = True
            connection = self._connection
        if connection is not None:
            _shut_down(connection)

    def finish(self) -> None:
        with self._lock:
            self.finished = True


def _shut_down(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    with contextlib.suppress(OSError):  # already closed: the request is over either way
        sock.shutdown(socket.SHUT_RDWR)


class _Watch:
    """One daemon thread that fires each cut at its deadline (earliest first)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending: list[tuple[float, int, Cut]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, cut: Cut) -> None:
        with self._condition:
            heapq.heappush(self._pending, (cut.deadline, next(self._order), cut))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="http-deadlines", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._pending and self._pending[0][2].finished:
                    heapq.heappop(self._pending)  # done before its deadline
                if not self._pending:
                    self._condition.wait()
                    continue
                wait = self._pending[0][0] - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                cut = heapq.heappop(self._pending)[2]
            cut.fire()


_watch = _Watch()
_per_thread = threading.local()


@contextmanager
def cut_at(deadline: float) -> Iterator[Cut]:
    """Requests made on this thread inside the block are cut off at ``deadline``
    (``time.monotonic()``), through a session from ``watched_session``."""
    cut = Cut(deadline)
    _per_thread.cut = cut
    _watch.add(cut)
    try:
        yield cut
    finally:
        cut.finish()
        _per_thread.cut = None


class _NotesItselfOnTheCut:
    """Mixed into urllib3's connections: the request starting on it notes it on its cut."""

    def request(self, *args, **kwargs):
        cut = getattr(_per_thread, "cut", None)
        if cut is not None:
            cut.attach(self)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_NotesItselfOnTheCut, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_NotesItselfOnTheCut, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def watched_session() -> requests.Session:
    """A requests session whose connections ``cut_at`` can shut down."""
    session = requests.Session()
    for adapter in session.adapters.values():
        adapter.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }
    return session
