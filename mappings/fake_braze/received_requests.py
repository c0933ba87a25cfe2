"""The in-memory record of what the fake answered, with API keys masked for display."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .exchange import Answer, IncomingRequest


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
            "path": masked_path(self.path),
            "headers": masked_headers(self.headers),
            "body": masked_body(self.body),
            "raw_body_bytes": len(self.raw_body),
            "status": self.status,
            "answer": self.answer,
            "received_at": self.received_at,
            "connection_id": self.connection_id,
        }

    def accepted_objects(self, kind: str) -> list[Any]:
        """The objects of ``kind`` Braze would have applied from this request.

        A 201 applies all but the objects listed in its ``errors``; a 202 ("queued", which
        Braze asks clients to treat as accepted) applies them all.
        """
        if self.status not in (201, 202) or not isinstance(self.body, dict):
            return []
        items = self.body.get(kind)
        if not isinstance(items, list):
            return []
        errors = (self.answer or {}).get("errors", [])
        rejected = {error.get("index") for error in errors if error.get("input_array") == kind}
        return [obj for index, obj in enumerate(items) if index not in rejected]


def masked_headers(headers: dict[str, str]) -> dict[str, Any]:
    masked: dict[str, Any] = dict(headers)
    if "authorization" in headers:
        scheme, _, key = headers["authorization"].strip().partition(" ")
        masked["authorization"] = {"scheme": scheme, **mask_key(key.strip())}
    return masked


def masked_body(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("api_key"), str):
        return {**body, "api_key": mask_key(body["api_key"])}
    return body


def masked_path(path: str) -> str:
    parts = urlsplit(path)
    if "api_key" not in parts.query:
        return path
    query = [(k, "…" + key_last4(v) if k == "api_key" else v) for k, v in parse_qsl(parts.query)]
    return parts._replace(query=urlencode(query)).geturl()


class ReceivedRequests:
    """Thread-safe list of every recorded request, oldest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []

    def record(self, incoming: IncomingRequest, answer: Answer) -> None:
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
            self._requests.append(request)

    def all(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> int:
        """Forget every request; returns how many there were."""
        with self._lock:
            count = len(self._requests)
            self._requests.clear()
        return count
