"""The answer to a request for ``/users/track``, checked in the order Braze shows from outside.

framing (411/400/413, found before the body is buffered) -> path (404) -> method (405) ->
scripted fault (an outage hits before auth) -> API key (401 unknown, 403 known but without the
``users.track`` permission) -> rate limit (429, per server, so per workspace) -> Content-Type
(415) -> JSON (400) -> object limit (400) -> per-object rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from . import rules
from .exchange import DROPPED_CONNECTION, Answer, IncomingRequest, message_answer
from .faults import Fault, FaultQueue, fault_status_answer
from .rate_limit import BRAZE_TRACK_LIMIT, RATE_LIMITED, FixedWindowLimiter
from .received_requests import key_last4

TRACK_PATH = "/users/track"
# Braze documents the 403's meaning (permission, plan or IP allowlist), not its wording: our
# code reads only the status.
NO_TRACK_PERMISSION = "This API key does not have the users.track permission"

RejectIndexes = dict[str, list[int]]


class TrackEndpoint:
    """Answers ``POST /users/track`` for one workspace: its keys, limits and queued faults."""

    def __init__(
        self,
        api_keys: Iterable[str],
        faults: FaultQueue,
        max_objects: int = rules.MAX_OBJECTS,
        limit_mode: str = "total",
        limiter: FixedWindowLimiter | None = None,
        keys_without_track: Iterable[str] = (),
    ) -> None:
        if limit_mode not in rules.LIMIT_MODES:
            raise ValueError(f"limit_mode must be one of {rules.LIMIT_MODES}")
        self.api_keys = frozenset(api_keys)
        # Keys of this workspace that lack the users.track permission (or, to Braze, are
        # refused by its IP allowlist: the same 403).
        self.keys_without_track = frozenset(keys_without_track)
        self.faults = faults
        self.max_objects, self.limit_mode = max_objects, limit_mode
        self.limiter = limiter

    def answer(self, incoming: IncomingRequest) -> Answer:
        if incoming.framing_error:
            return message_answer(*incoming.framing_error)
        if incoming.path != TRACK_PATH:  # Braze's path has no trailing slash
            return message_answer(404, "Not Found")
        if incoming.method != "POST":
            # Braze documents no answer for a wrong method; 405 with Allow (HTTP's own answer)
            # tells a client bug apart from a wrong host or path, and neither is retried.
            return message_answer(405, "Method Not Allowed", {"Allow": "POST"})
        return self._with_faults(incoming)

    def _with_faults(self, incoming: IncomingRequest) -> Answer:
        fault = self.faults.take()
        if fault is None:
            return self._authorized(incoming, None)
        # The answer is decided now and only its sending is slowed (by the HTTP layer, which
        # stop() can interrupt): a late answer is still one Braze applied on arrival.
        return replace(self._fault_answer(incoming, fault), pace=fault.pace)

    def _fault_answer(self, incoming: IncomingRequest, fault: Fault) -> Answer:
        if fault.drop_connection:
            return DROPPED_CONNECTION
        if fault.status is not None:
            limit = self.limiter.limit if self.limiter else BRAZE_TRACK_LIMIT
            return fault_status_answer(fault, limit)
        return self._authorized(incoming, fault.reject_indexes)

    def _authorized(self, incoming: IncomingRequest, reject: RejectIndexes | None) -> Answer:
        key = bearer_key(incoming.headers)
        if key in self.keys_without_track:
            return message_answer(403, NO_TRACK_PERMISSION)
        if key not in self.api_keys:
            shown = key_last4(key or "")
            return message_answer(401, f"Invalid API key: …{shown}" if shown else "Invalid API key")
        if self.limiter is None:
            return self._validated(incoming, reject)
        allowed, rate_headers = self.limiter.take()
        answer = self._validated(incoming, reject) if allowed else message_answer(429, RATE_LIMITED)
        answer.headers.update(rate_headers)
        return answer

    def _validated(self, incoming: IncomingRequest, reject: RejectIndexes | None) -> Answer:
        if not is_json_content_type(incoming.headers.get("content-type")):
            return message_answer(415, "Content-Type must be application/json")
        try:
            body = rules.parse_body(incoming.raw_body)
            too_many = rules.limit_error(body, self.max_objects, self.limit_mode)
            result = None if too_many else rules.validate_body(body)
        except rules.BodyError as error:
            return message_answer(400, str(error))
        if result is None:
            return message_answer(400, rules.TOO_MANY_OBJECTS)
        if reject:
            result = rules.reject(result, reject)
        return Answer(*rules.answer_for(result))


def bearer_key(headers: dict[str, str]) -> str | None:
    scheme, _, key = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def is_json_content_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() == "application/json"
