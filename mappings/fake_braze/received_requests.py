"""The in-memory record of what the fake answered, with API keys masked for display."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .exchange import SENDING, Answer, AnswerDelivery, IncomingRequest


def key_last4(key: str) -> str:
    """The last 4 characters, only when that is at most half the key (else nothing)."""
    return key[-4:] if len(key) >= 8 else ""


def mask_key(key: str) -> dict[str, str]:
    return {"key_last4": key_last4(key)}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the fake answered (or dropped: status 0, answer None).

    It is recorded when it arrives, before a slow or trickled answer goes out; the
    ``answer_*`` fields then say how sending ended (``exchange.SENDING`` until it has):
    ``answer_finished_at`` is the ``time.time()`` of the last byte, the drop, the moment the
    client was found gone or the server stopped, and ``answer_bytes_sent`` how much went out.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    status: int
    answer: dict[str, Any] | None
    received_at: float
    connection_id: int = 0  # same id = same TCP connection (proves keep-alive)
    answer_outcome: str = SENDING  # or SENT, DROPPED, CLIENT_GONE, SERVER_STOPPED
    answer_finished_at: float | None = None
    answer_bytes_sent: int = 0

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
            "answer_outcome": self.answer_outcome,
            "answer_finished_at": self.answer_finished_at,
            "answer_bytes_sent": self.answer_bytes_sent,
        }

    def accepted_objects(self, kind: str) -> list[Any]:
        """The objects of ``kind`` Braze would have applied from this request.

        A 201 applies all but the objects listed in its ``errors``; a 202 ("queued", which
        Braze asks clients to treat as accepted) applies them all. Whether the answer reached
        the client does not matter: Braze applied the request before answering.
        """
        return accepted_objects(self.status, self.body, self.answer, kind)


def accepted_objects(status: int, body: Any, answer: Any, kind: str) -> list[Any]:
    """The objects of ``kind`` in a track request's ``body`` that its answer says were applied."""
    if status not in (201, 202) or not isinstance(body, dict):
        return []
    items = body.get(kind)
    if not isinstance(items, list):
        return []
    errors = answer.get("errors", []) if isinstance(answer, dict) else []
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
        self._keys = itertools.count(1)
        self._requests: dict[int, ReceivedRequest] = {}  # by record key, in arrival order

    def record(self, incoming: IncomingRequest, answer: Answer) -> int:
        """Record a request as it arrives; returns the key that ``finish`` takes."""
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
            key = next(self._keys)
            self._requests[key] = request
        return key

    def finish(self, key: int, delivery: AnswerDelivery) -> None:
        """Note how the answer's sending ended (nothing if the record was cleared meanwhile)."""
        with self._lock:
            request = self._requests.get(key)
            if request is not None:
                self._requests[key] = replace(
                    request,
                    answer_outcome=delivery.outcome,
                    answer_finished_at=delivery.finished_at,
                    answer_bytes_sent=delivery.bytes_sent,
                )

    def all(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests.values())

    def clear(self) -> int:
        """Forget every request; returns how many there were."""
        with self._lock:
            count = len(self._requests)
            self._requests.clear()
        return count
