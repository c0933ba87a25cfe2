"""The types every platform adapter shares: what a platform sent, what we concluded, what we answer.

Types only: the helpers the adapters share are in ``common``. An adapter's life is two calls the
API makes around one ingest:

    raw = RawRequest(body, content_type, headers, query)
    request = adapter.parse(raw)                  # may raise PlatformRequestError
    ... ingest request.conversation, idempotent on request.turn_id, within the adapter's budget ...
    response = adapter.respond(outcome, request)  # the platform's own dialect

and ``adapter.refuse(status, code, message, request)`` for an answer with no outcome (a bad token,
a rate limit, the database down): the same status the ingest API gives, in the platform's shape.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

# The outcomes of one ingest, as mappings/api/serializers.py reports them: delivered (in Braze),
# queued (stored, Braze slow or down, retried), accepted (stored, async mode), failed (Braze
# refused the record or the key) and rejected (the mapping could not use the conversation).
OUTCOME_STATUSES = ("delivered", "queued", "accepted", "failed", "rejected")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# A person is waiting in a chat or on a call while we answer: no budget is longer than this,
# however long the platform itself would wait (Rasa waits 5 minutes, Botpress 60 s).
HUMAN_WAIT_CEILING_SECONDS = 9.0
# A budget ends the wait for Braze; the route then records the outcome and answers. Budgets are
# set this much under the time by which the platform must have its answer.
ANSWER_MARGIN_SECONDS = 0.5


class PlatformRequestError(ValueError):
    """The platform's request cannot be read; the message says what is wrong (a 400 answer)."""


@dataclass(frozen=True)
class RawRequest:
    """One platform call as it arrived: the parts of the HTTP request an adapter reads."""

    body: bytes
    content_type: str = ""  # the Content-Type header as sent, parameters and all
    headers: Mapping[str, str] = field(default_factory=dict)  # names in any case
    query: Mapping[str, str] = field(default_factory=dict)  # the query string's parameters


@dataclass(frozen=True)
class PlatformRequest:
    """One platform call, read: the conversation for the engine and the ids around it."""

    # What the mapping engine reads: the platform's own structure, readable by JMESPath as the
    # platform documents it, plus a normalised "bridge" block the presets rely on.
    conversation: dict[str, Any]
    # The platform's id of this turn (one turn, one delivery): the idempotency key when the
    # caller sent no Idempotency-Key. None when the platform sent nothing unique per turn.
    turn_id: str | None
    session_id: str | None
    # Parse-time options from the query string or headers (common.read_options): "messages"
    # (add a text for the end user), "success_format" ("string": Pypestream's "true"/"error").
    options: Mapping[str, str] = field(default_factory=dict)
    # What respond() must echo back: Rasa's action name, Lex's intent, Dialogflow ES's session.
    reply_context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What the ingest concluded, as the API passes it to ``respond``."""

    status: str  # one of OUTCOME_STATUSES
    success: bool  # the ingest API's "success": in Braze, or stored and being retried
    delivery_id: str | None = None
    braze_status: int | None = None  # Braze's HTTP status, when Braze answered
    braze_message: str | None = None
    braze_errors: tuple[Mapping[str, Any], ...] = ()  # Braze's per-object errors
    problems: tuple[Mapping[str, Any], ...] = ()  # engine Problem.as_dict() rows
    missing: tuple[str, ...] = ()  # source paths of missing required fields
    message: str = ""  # why, in words: the rejection or failure reason

    def __post_init__(self) -> None:
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"unknown outcome status {self.status!r}")


@dataclass(frozen=True)
class PlatformResponse:
    """An HTTP answer in the platform's dialect: status, JSON body, content type."""

    status: int
    body: Mapping[str, Any]
    content_type: str = JSON

    def content(self) -> bytes:
        """The body as sent: compact UTF-8 JSON (platform size limits count these bytes)."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode()


@runtime_checkable
class Adapter(Protocol):
    """One bot platform: its request in, our outcome out, both in its own dialect."""

    platform_id: str  # the route's <platform>: "dialogflow-cx", "rasa", ...
    default_budget_seconds: float  # sync budget, under the platform's own deadline

    def parse(self, raw: RawRequest) -> PlatformRequest: ...

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse: ...

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse: ...
