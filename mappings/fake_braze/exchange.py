"""What passes between the HTTP layer and the endpoints: a read request, its answer, and how
the answer went out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

TRACK_PATH = "/users/track"  # Braze's paths have no trailing slash
EXPORT_PATH = "/users/export/ids"
BRAZE_PATHS = (TRACK_PATH, EXPORT_PATH)

# How an answer's sending ended (``ReceivedRequest.answer_outcome``).
SENDING = "sending"  # not finished yet: waiting or trickling
SENT = "sent"  # the last byte was handed to the operating system
DROPPED = "dropped"  # a ``drop_connection`` fault closed the connection without a byte
CLIENT_GONE = "client_gone"  # the client closed or reset the connection before the last byte
SERVER_STOPPED = "server_stopped"  # ``FakeBraze.stop()`` cut the wait or the trickle short


@dataclass
class IncomingRequest:
    method: str
    target: str  # the request target as sent: path and query
    headers: dict[str, str]  # names lower-cased
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


@dataclass(frozen=True)
class Pace:
    """How slowly an answer goes out: a wait before its status line, then, with a trickle
    interval, its bytes (status line, headers and body) ``trickle_chunk_bytes`` at a time."""

    delay_seconds: float = 0.0
    trickle_interval_seconds: float = 0.0
    trickle_chunk_bytes: int = 1


AT_ONCE = Pace()


@dataclass(frozen=True)
class AnswerDelivery:
    """How sending one answer ended: an outcome above, when (``time.time()``), how many bytes."""

    outcome: str
    finished_at: float
    bytes_sent: int


@dataclass
class Answer:
    status: int  # 0: drop the connection without answering
    body: dict[str, Any] | list[Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False
    pace: Pace = AT_ONCE
    # Called from the handler thread once sending has ended, so the record can say how.
    on_delivered: Callable[[AnswerDelivery], None] | None = None


DROPPED_CONNECTION = Answer(0, None, close=True)  # shared: copy with dataclasses.replace


def message_answer(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    """An answer whose body is Braze's usual ``{"message": ...}``."""
    return Answer(status, {"message": message}, dict(headers or {}))
