"""A local, real HTTP server that answers ``POST /users/track`` the way Braze documents it.

Used by the demo and by tests over real HTTP. Standard library only, and nothing from the app.

Order of checks for a request, chosen to look like Braze seen from outside:
framing (411/400/413, before the body is buffered) -> path (404) -> method (405) -> scripted
fault (an outage hits before auth) -> API key (401) -> rate limit (429, per server, so per
workspace) -> Content-Type (415) -> JSON (400) -> object limit (400) -> per-object rules.

Control endpoints under ``/_fake/`` (not recorded, no auth: the server binds to loopback):
``GET|DELETE /_fake/received``, ``GET|POST|DELETE /_fake/faults``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import rules

TRACK_PATH = "/users/track"
CONTROL_PREFIX = "/_fake/"
MAX_BODY_BYTES = 4 * 1024 * 1024
# An oversized body up to this size is read and thrown away so the client sees the 413
# instead of a reset; anything larger is answered and the connection closed unread.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
IDLE_TIMEOUT_SECONDS = 60
BRAZE_TRACK_LIMIT = 3000  # requests per 3 s: what X-RateLimit-Limit says when nothing is set
HEADER_STYLES = ("classic", "delta", "retry_after")
FAULT_MESSAGES = {
    202: "queued",
    429: "API rate limit exceeded",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def key_last4(key: str) -> str:
    """The last 4 characters, only when that is at most half the key (else nothing)."""
    return key[-4:] if len(key) >= 8 else ""


def mask_key(key: str) -> dict[str, str]:
    return {"key_last4": key_last4(key)}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the fake answered (or dropped: status 0, answer None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    status: int
    answer: dict[str, Any] | None
    received_at: float
    connection_id: int = 0  # same id = same TCP connection (proves keep-alive)

    def public_dict(self) -> dict[str, Any]:
        """JSON-ready view with every API key reduced to its last 4 characters."""
        return {
            "method": self.method,
            "path": _masked_path(self.path),
            "headers": _masked_headers(self.headers),
            "body": _masked_body(self.body),
            "raw_body_bytes": len(self.raw_body),
            "status": self.status,
            "answer": self.answer,
            "received_at": self.received_at,
            "connection_id": self.connection_id,
        }


def _masked_headers(headers: dict[str, str]) -> dict[str, Any]:
    masked: dict[str, Any] = dict(headers)
    if "authorization" in headers:
        scheme, _, key = headers["authorization"].strip().partition(" ")
        masked["authorization"] = {"scheme": scheme, **mask_key(key.strip())}
    return masked


def _masked_body(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("api_key"), str):
        return {**body, "api_key": mask_key(body["api_key"])}
    return body


def _masked_path(path: str) -> str:
    parts = urlsplit(path)
    if "api_key" not in parts.query:
        return path
    query = [(k, "…" + key_last4(v) if k == "api_key" else v) for k, v in parse_qsl(parts.query)]
    return parts._replace(query=urlencode(query)).geturl()


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for the next matching ``POST /users/track`` requests.

    It lasts ``times`` requests, or, with ``for_seconds``, every request until that long after
    it first triggered. Kinds: ``status`` (with 429 rate-limit headers in ``header_style``;
    202 answers Braze's maintenance "queued"), ``delay_seconds`` (then the usual answer, or
    the fault's other effect), ``drop_connection``, ``reject_indexes`` (a partial success).
    """

    status: int | None = None
    times: int = 1
    for_seconds: float | None = None
    reset_in: float = 1.0
    header_style: str = "classic"
    delay_seconds: float = 0.0
    drop_connection: bool = False
    reject_indexes: dict[str, list[int]] | None = None

    def __post_init__(self) -> None:
        effects = [self.status is not None, self.drop_connection, self.reject_indexes is not None]
        if sum(effects) > 1:
            raise ValueError("status, drop_connection and reject_indexes are exclusive")
        if not any(effects) and not self.delay_seconds:
            raise ValueError("a Fault needs status, delay_seconds, drop_connection or reject")
        self._check_numbers()
        self._check_reject_indexes()

    def _check_numbers(self) -> None:
        if self.status is not None and not (_is_int(self.status) and 200 <= self.status <= 599):
            raise ValueError("status must be an HTTP status from 200 to 599")
        if not _is_int(self.times) or self.times < 1:
            raise ValueError("times must be an integer >= 1")
        if self.for_seconds is not None and not self.for_seconds > 0:
            raise ValueError("for_seconds must be > 0")
        if self.reset_in < 0 or self.delay_seconds < 0:
            raise ValueError("reset_in and delay_seconds must be >= 0")
        if self.header_style not in HEADER_STYLES:
            raise ValueError(f"header_style must be one of {HEADER_STYLES}")

    def _check_reject_indexes(self) -> None:
        for kind, indexes in (self.reject_indexes or {}).items():
            if kind not in rules.ARRAYS:
                raise ValueError(f"reject_indexes keys must be among {rules.ARRAYS}")
            if not all(_is_int(index) and index >= 0 for index in indexes):
                raise ValueError("reject_indexes values must be lists of indexes >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown Fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _ArmedFault:
    """A queued fault and how much of it is used up."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times
        self.started_at: float | None = None

    def use(self, now: float) -> bool:
        """Whether the fault applies to a request arriving ``now`` (and count it if so)."""
        if self.fault.for_seconds is not None:
            self.started_at = now if self.started_at is None else self.started_at
            return now - self.started_at < self.fault.for_seconds
        self.remaining -= 1
        return True

    @property
    def spent(self) -> bool:
        return self.fault.for_seconds is None and self.remaining <= 0


class _FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: deque[_ArmedFault] = deque()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(_ArmedFault(fault))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [armed.fault for armed in self._armed]

    def take(self) -> Fault | None:
        """The fault that applies to the request arriving now, consuming it, in FIFO order."""
        now = time.monotonic()
        with self._lock:
            while self._armed:
                armed = self._armed[0]
                if armed.use(now):
                    if armed.spent:
                        self._armed.popleft()
                    return armed.fault
                self._armed.popleft()
        return None


class _FixedWindow:
    """``limit`` requests per ``per_seconds`` window, the window starting at its first request.

    A fixed window (not sliding) because Braze's classic ``X-RateLimit-Reset`` names one
    instant at which the whole budget comes back.
    """

    def __init__(self, limit: int, per_seconds: float) -> None:
        self.limit, self.per_seconds = limit, per_seconds
        self._lock = threading.Lock()
        self._start = -math.inf
        self._count = 0

    def take(self) -> tuple[bool, dict[str, str]]:
        now = time.time()
        with self._lock:
            if now >= self._start + self.per_seconds:
                self._start, self._count = now, 0
            allowed = self._count < self.limit
            if allowed:
                self._count += 1
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.limit - self._count),
                "X-RateLimit-Reset": str(math.ceil(self._start + self.per_seconds)),
            }
        return allowed, headers


@dataclass
class _Answer:
    status: int  # 0: drop the connection without answering
    body: dict[str, Any] | list[Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


_DROPPED = _Answer(0, None, close=True)


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, {"message": message}, dict(headers or {}))


@dataclass
class _Incoming:
    method: str
    target: str
    headers: dict[str, str]
    raw_body: bytes
    connection_id: int
    received_at: float
    framing_error: tuple[int, str] | None = None  # answered, then the connection is closed

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @cached_property
    def body(self) -> Any:
        """Lenient parse for the record (the rules parse strictly)."""
        try:
            return json.loads(self.raw_body) if self.raw_body else None
        except ValueError:
            return None


class FakeBraze:
    """A local fake Braze REST endpoint. ``port=0`` picks a free port; see ``url`` after start.

    ``limit_mode`` is ``"total"`` (75 objects across the three arrays, Braze's default for
    newer contracts) or ``"per_array"`` (older contracts). ``rate_limit=(limit, per_seconds)``
    answers 429 with classic headers past ``limit`` requests in a fixed window.
    """

    def __init__(
        self,
        api_keys: Iterable[str],
        host: str = "127.0.0.1",
        port: int = 0,
        max_objects: int = rules.MAX_OBJECTS,
        rate_limit: tuple[int, float] | None = None,
        limit_mode: str = "total",
    ) -> None:
        if limit_mode not in rules.LIMIT_MODES:
            raise ValueError(f"limit_mode must be one of {rules.LIMIT_MODES}")
        self.api_keys = frozenset(api_keys)
        self.host, self.port = host, port
        self.max_objects, self.limit_mode = max_objects, limit_mode
        self._limiter = _FixedWindow(*rate_limit) if rate_limit else None
        self._faults = _FaultQueue()
        self._lock = threading.Lock()
        self._received: list[ReceivedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBraze:
        if self._server is not None:
            raise RuntimeError("FakeBraze is already started")
        self._server = _Server((self.host, self.port), _Handler, fake=self)
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
        server.close_connections()
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
        with self._lock:
            return list(self._received)

    def clear_received(self) -> int:
        with self._lock:
            count = len(self._received)
            self._received.clear()
        return count

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
        """Objects of ``kind`` that Braze would have applied, over all received requests.

        Counts 201 answers minus the objects listed in their ``errors``, and 202 ("queued",
        which Braze asks clients to treat as accepted) in full.
        """
        if kind not in rules.ARRAYS:
            raise ValueError(f"kind must be one of {rules.ARRAYS}")
        accepted: list[Any] = []
        for request in self.received:
            accepted.extend(_accepted_in(request, kind))
        return accepted

    # -- answering (called from handler threads) -----------------------------------------------

    def handle(self, incoming: _Incoming) -> _Answer:
        if incoming.path.startswith(CONTROL_PREFIX):
            return self._control(incoming)
        answer = self._route(incoming)
        self._record(incoming, answer)
        return answer

    def _route(self, incoming: _Incoming) -> _Answer:
        if incoming.framing_error:
            return _message(*incoming.framing_error)
        if incoming.path != TRACK_PATH:  # Braze's path has no trailing slash
            return _message(404, "Not Found")
        if incoming.method != "POST":
            # Braze documents no answer for a wrong method; 405 with Allow (HTTP's own answer)
            # tells a client bug apart from a wrong host or path, and neither is retried.
            return _message(405, "Method Not Allowed", {"Allow": "POST"})
        return self._track(incoming)

    def _track(self, incoming: _Incoming) -> _Answer:
        fault = self._faults.take()
        if fault is None:
            return self._authorized(incoming, None)
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.drop_connection:
            return _DROPPED
        if fault.status is not None:
            return _fault_answer(fault, self._limiter)
        return self._authorized(incoming, fault.reject_indexes)

    def _authorized(self, incoming: _Incoming, reject: dict[str, list[int]] | None) -> _Answer:
        key = _bearer_key(incoming.headers)
        if key not in self.api_keys:
            shown = key_last4(key or "")
            return _message(401, f"Invalid API key: …{shown}" if shown else "Invalid API key")
        if self._limiter is None:
            return self._validated(incoming, reject)
        allowed, rate_headers = self._limiter.take()
        answer = self._validated(incoming, reject) if allowed else _rate_limited()
        answer.headers.update(rate_headers)
        return answer

    def _validated(self, incoming: _Incoming, reject: dict[str, list[int]] | None) -> _Answer:
        if not _is_json(incoming.headers.get("content-type")):
            return _message(415, "Content-Type must be application/json")
        try:
            body = rules.parse_body(incoming.raw_body)
            too_many = rules.limit_error(body, self.max_objects, self.limit_mode)
            result = None if too_many else rules.validate_body(body)
        except rules.BodyError as error:
            return _message(400, str(error))
        if result is None:
            return _message(400, rules.TOO_MANY_OBJECTS)
        if reject:
            result = rules.reject(result, reject)
        return _Answer(*rules.answer_for(result))

    def _record(self, incoming: _Incoming, answer: _Answer) -> None:
        request = ReceivedRequest(
            method=incoming.method,
            path=incoming.target,
            headers=incoming.headers,
            body=incoming.body,
            raw_body=incoming.raw_body,
            status=answer.status,
            answer=answer.body if isinstance(answer.body, dict) else None,
            received_at=incoming.received_at,
            connection_id=incoming.connection_id,
        )
        with self._lock:
            self._received.append(request)

    # -- control API ----------------------------------------------------------------------------

    def _control(self, incoming: _Incoming) -> _Answer:
        if incoming.framing_error:
            return _message(*incoming.framing_error)
        route = (incoming.method, incoming.path)
        if route == ("GET", "/_fake/received"):
            return _Answer(200, [request.public_dict() for request in self.received])
        if route == ("DELETE", "/_fake/received"):
            return _Answer(200, {"message": "cleared", "deleted": self.clear_received()})
        if route == ("GET", "/_fake/faults"):
            return _Answer(200, [fault.to_dict() for fault in self.pending_faults])
        if route == ("POST", "/_fake/faults"):
            return self._add_faults(incoming.body)
        if route == ("DELETE", "/_fake/faults"):
            self.clear_faults()
            return _message(200, "cleared")
        return _message(404, "Not Found")

    def _add_faults(self, body: Any) -> _Answer:
        items = body if isinstance(body, list) else [body]
        if not all(isinstance(item, dict) for item in items):
            return _message(400, "Invalid fault: send a JSON object or a list of objects")
        try:
            faults = [Fault.from_dict(item) for item in items]
        except (TypeError, ValueError) as error:
            return _message(400, f"Invalid fault: {error}")
        for fault in faults:
            self.add_fault(fault)
        return _Answer(201, {"message": "added", "pending": len(self.pending_faults)})


def _accepted_in(request: ReceivedRequest, kind: str) -> list[Any]:
    if request.status not in (201, 202) or not isinstance(request.body, dict):
        return []
    items = request.body.get(kind)
    if not isinstance(items, list):
        return []
    errors = (request.answer or {}).get("errors", [])
    rejected = {error.get("index") for error in errors if error.get("input_array") == kind}
    return [obj for index, obj in enumerate(items) if index not in rejected]


def _bearer_key(headers: dict[str, str]) -> str | None:
    scheme, _, key = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"


def _rate_limited() -> _Answer:
    return _message(429, FAULT_MESSAGES[429])


def _fault_answer(fault: Fault, limiter: _FixedWindow | None) -> _Answer:
    status = fault.status or 503
    message = FAULT_MESSAGES.get(status) or _phrase(status)
    answer = _message(status, message)
    if status == 429:
        limit = limiter.limit if limiter else BRAZE_TRACK_LIMIT
        answer.headers.update(_rate_limit_headers(fault, limit))
    return answer


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _rate_limit_headers(fault: Fault, limit: int) -> dict[str, str]:
    """Braze's three ways of saying when to come back (see BRAZE_API.md)."""
    if fault.header_style == "retry_after":
        return {"X-Ratelimit-Retry-After": _seconds(fault.reset_in)}
    if fault.header_style == "delta":
        reset = _seconds(fault.reset_in)
    else:
        reset = str(math.ceil(time.time() + fault.reset_in))
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset,
    }


def _seconds(value: float) -> str:
    """Whole seconds as Braze sends them; a fraction is kept so tests can stay fast."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# -- HTTP plumbing ------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a benchmark opens many connections at once

    def __init__(self, address: tuple[str, int], handler: type, fake: FakeBraze) -> None:
        self.fake = fake
        self._connections: dict[socket.socket, int] = {}
        self._connections_lock = threading.Lock()
        self._ids = itertools.count(1)
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def open_connection(self, connection: socket.socket) -> int:
        with self._connections_lock:
            self._connections[connection] = next(self._ids)
            return self._connections[connection]

    def close_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def close_connections(self) -> None:
        """Wake handler threads idling on keep-alive connections so stop() leaves none."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away (timeout, reset): normal for a fake under test
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a requests.Session reuses its connection
    server_version = "FakeBraze/1.0"
    wbufsize = -1  # buffer headers and body into one send; flushed after each request
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.open_connection(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.close_connection(self.connection)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default writes one stderr line per request."""

    def _dispatch(self) -> None:
        incoming = self._incoming()
        answer = self.server.fake.handle(incoming)
        self._send(answer, close=answer.close or incoming.framing_error is not None)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _incoming(self) -> _Incoming:
        received_at = time.time()
        raw_body, framing_error = self._read_body()
        return _Incoming(
            method=self.command,
            target=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            raw_body=raw_body,
            connection_id=self.connection_id,
            received_at=received_at,
            framing_error=framing_error,
        )

    def _read_body(self) -> tuple[bytes, tuple[int, str] | None]:
        """The body, or why it was not read (checked on Content-Length before reading)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return b"", (411, "Length Required")
        declared = self.headers.get("Content-Length", "0").strip()
        if not declared.isdigit():
            return b"", (400, rules.PARSE_ERROR)
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self._drain(length)
            return b"", (413, "Request body is larger than the 4 MB limit")
        return self.rfile.read(length), None

    def _drain(self, length: int) -> None:
        if length > DRAIN_LIMIT_BYTES:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 64 * 1024))
            if not chunk:
                return
            length -= len(chunk)

    def _send(self, answer: _Answer, close: bool) -> None:
        if answer.status == 0:
            self.close_connection = True  # drop: close without a byte of answer
            return
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)
