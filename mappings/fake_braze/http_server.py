"""HTTP plumbing: a threading HTTP/1.1 keep-alive server that reads each request, asks for its
answer and writes it back."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .exchange import SENT, Answer, AnswerDelivery, IncomingRequest
from .paced_sending import drop_after_delay, send_paced
from .rules import PARSE_ERROR

MAX_BODY_BYTES = 4 * 1024 * 1024
# An oversized body up to this size is read and thrown away so the client sees the 413
# instead of a reset; anything larger is answered and the connection closed unread.
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024
DRAIN_CHUNK_BYTES = 64 * 1024
IDLE_TIMEOUT_SECONDS = 60

Responder = Callable[[IncomingRequest], Answer]


class FakeBrazeHTTPServer(ThreadingHTTPServer):
    """Hands every request to ``respond`` and tracks open connections so they can be closed."""

    daemon_threads = True
    request_queue_size = 128  # a benchmark opens many connections at once

    def __init__(self, address: tuple[str, int], respond: Responder) -> None:
        self.respond = respond
        self.stopping = threading.Event()  # set by close_connections; every paced wait ends
        self._connections: dict[socket.socket, tuple[int, threading.Thread]] = {}
        self._connections_lock = threading.Lock()
        self._connection_ids = itertools.count(1)
        super().__init__(address, FakeBrazeRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def open_connection(self, connection: socket.socket) -> int:
        """Register a new connection and the thread serving it; returns its id for the record."""
        with self._connections_lock:
            connection_id = next(self._connection_ids)
            self._connections[connection] = (connection_id, threading.current_thread())
            return connection_id

    def close_connection(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.pop(connection, None)

    def close_connections(self, join_seconds: float = 2.0) -> None:
        """End every handler thread, so stop() leaves none behind: interrupt slow and trickled
        answers, wake threads idling on keep-alive connections, then wait for them to exit."""
        self.stopping.set()
        with self._connections_lock:
            open_connections = list(self._connections.items())
        for connection, _ in open_connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + join_seconds
        for _, (_, thread) in open_connections:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client went away (timeout, reset): normal for a fake under test
        super().handle_error(request, client_address)


class FakeBrazeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a requests.Session reuses its connection
    server_version = "FakeBraze/1.0"
    wbufsize = -1  # the stdlib's own error answers go out in one send (ours bypass wfile)
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_SECONDS
    server: FakeBrazeHTTPServer

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
        incoming = self._read_request()
        answer = self.server.respond(incoming)
        delivery = self._send(answer, close=answer.close or incoming.framing_error is not None)
        if delivery.outcome != SENT:
            self.close_connection = True
        if answer.on_delivered is not None:
            answer.on_delivered(delivery)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _read_request(self) -> IncomingRequest:
        received_at = time.time()
        raw_body, framing_error = self._read_body()
        return IncomingRequest(
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
            return b"", (400, PARSE_ERROR)
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self._discard_body(length)
            return b"", (413, "Request body is larger than the 4 MB limit")
        return self.rfile.read(length), None

    def _discard_body(self, length: int) -> None:
        if length > DRAIN_LIMIT_BYTES:
            return
        while length > 0:
            chunk = self.rfile.read(min(length, DRAIN_CHUNK_BYTES))
            if not chunk:
                return
            length -= len(chunk)

    def _send(self, answer: Answer, close: bool) -> AnswerDelivery:
        if answer.status == 0:
            return drop_after_delay(answer.pace, self.server.stopping)
        if close:
            self.close_connection = True
        data = self._answer_bytes(answer, close)
        # Straight to the socket, past wfile's buffer, so a trickle's chunks are not held back.
        return send_paced(self.connection, data, answer.pace, self.server.stopping)

    def _answer_bytes(self, answer: Answer, close: bool) -> bytes:
        """Status line, headers and body, as ``send_response`` and ``send_header`` write them."""
        payload = json.dumps(answer.body).encode()
        phrase = self.responses[answer.status][0] if answer.status in self.responses else ""
        lines = [
            f"{self.protocol_version} {answer.status} {phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            *(f"{name}: {value}" for name, value in answer.headers.items()),
            *(["Connection: close"] if close else []),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict") + payload
