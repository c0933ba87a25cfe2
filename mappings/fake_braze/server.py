"""``FakeBraze``: a local, real HTTP server that answers ``POST /users/track`` as Braze does.

Used by the demo and by tests over real HTTP. Standard library only, and nothing from the app.
The checks a track request goes through are in :mod:`.track_endpoint`; the ``/_fake/``
control API in :mod:`.control_endpoint`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from . import rules
from .control_endpoint import control_answer, is_control_request
from .exchange import Answer, IncomingRequest
from .faults import Fault, FaultQueue
from .http_server import FakeBrazeHTTPServer
from .rate_limit import FixedWindowLimiter
from .received_requests import ReceivedRequest, ReceivedRequests
from .track_endpoint import TrackEndpoint


class FakeBraze:
    """A local fake Braze REST endpoint. ``port=0`` picks a free port; see ``url`` after start.

    ``limit_mode`` is ``"total"`` (75 objects across the three arrays, Braze's default for
    newer contracts) or ``"per_array"`` (older contracts). ``rate_limit=(limit, per_seconds)``
    answers 429 with classic headers past ``limit`` requests in a fixed window.
    ``keys_without_track`` are keys of the workspace that lack the ``users.track`` permission:
    answered 403, as Braze answers them.
    """

    def __init__(
        self,
        api_keys: Iterable[str],
        host: str = "127.0.0.1",
        port: int = 0,
        max_objects: int = rules.MAX_OBJECTS,
        rate_limit: tuple[int, float] | None = None,
        limit_mode: str = "total",
        keys_without_track: Iterable[str] = (),
    ) -> None:
        self.host, self.port = host, port
        self._faults = FaultQueue()
        self._received = ReceivedRequests()
        self._track = TrackEndpoint(
            api_keys,
            self._faults,
            max_objects=max_objects,
            limit_mode=limit_mode,
            limiter=FixedWindowLimiter(*rate_limit) if rate_limit else None,
            keys_without_track=keys_without_track,
        )
        self._server: FakeBrazeHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def api_keys(self) -> frozenset[str]:
        return self._track.api_keys

    @property
    def keys_without_track(self) -> frozenset[str]:
        return self._track.keys_without_track

    @property
    def max_objects(self) -> int:
        return self._track.max_objects

    @property
    def limit_mode(self) -> str:
        return self._track.limit_mode

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBraze:
        if self._server is not None:
            raise RuntimeError("FakeBraze is already started")
        self._server = FakeBrazeHTTPServer((self.host, self.port), self.handle)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-braze-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()  # ends waits and trickles too, and joins handler threads
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBraze:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- what tests look at and script ----------------------------------------------------------

    @property
    def received(self) -> list[ReceivedRequest]:
        return self._received.all()

    def clear_received(self) -> int:
        return self._received.clear()

    def reset(self) -> None:
        """Forget received requests and pending faults."""
        self.clear_received()
        self._faults.clear()

    def add_fault(self, fault: Fault) -> None:
        self._faults.add(fault)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        return self._faults.pending()

    def accepted_objects(self, kind: str) -> list[Any]:
        """Objects of ``kind`` that Braze would have applied, over all received requests."""
        if kind not in rules.ARRAYS:
            raise ValueError(f"kind must be one of {rules.ARRAYS}")
        return [obj for request in self.received for obj in request.accepted_objects(kind)]

    # -- answering (called from handler threads) -----------------------------------------------

    def handle(self, incoming: IncomingRequest) -> Answer:
        if is_control_request(incoming):
            return control_answer(incoming, self._received, self._faults)
        answer = self._track.answer(incoming)
        # Recorded on arrival, before a slow or trickled answer goes out: Braze has applied it.
        record_key = self._received.record(incoming, answer)
        return replace(answer, on_delivered=partial(self._received.finish, record_key))
