"""What passes between the HTTP layer and the endpoints: a read request and its answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit


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


@dataclass
class Answer:
    status: int  # 0: drop the connection without answering
    body: dict[str, Any] | list[Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False


DROPPED_CONNECTION = Answer(0, None, close=True)


def message_answer(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    """An answer whose body is Braze's usual ``{"message": ...}``."""
    return Answer(status, {"message": message}, dict(headers or {}))
