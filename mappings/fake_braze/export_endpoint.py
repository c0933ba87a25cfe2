"""The answer to ``POST /users/export/ids``: Braze's profile export, read from the profiles the
fake's accepted ``/users/track`` requests built.

framing (411/400/413) -> method (405) -> scripted fault for this path -> API key (401) -> the
key's ``users.export.ids`` permission (403) -> this endpoint's own rate limit (429) ->
Content-Type (415) -> body rules (400) -> 201 with ``users`` and ``invalid_user_ids``.
"""

from __future__ import annotations

from dataclasses import replace

from . import export_rules
from .api_keys import EXPORT_PERMISSION, ApiKeys
from .exchange import DROPPED_CONNECTION, EXPORT_PATH, Answer, IncomingRequest, message_answer
from .faults import FaultQueue, fault_status_answer
from .profiles import Profiles
from .rate_limit import BRAZE_EXPORT_LIMIT, RATE_LIMITED, FixedWindowLimiter
from .rules import BodyError
from .track_endpoint import is_json_content_type


class ExportEndpoint:
    """Answers ``POST /users/export/ids`` for one workspace.

    ``fields_required`` (the default) refuses a request without ``fields_to_export``, as Braze
    does for workspaces onboarded on or after 2024-08-22; off, such a request gets every field.
    """

    def __init__(
        self,
        keys: ApiKeys,
        faults: FaultQueue,
        profiles: Profiles,
        limiter: FixedWindowLimiter | None = None,
        fields_required: bool = True,
    ) -> None:
        self.keys, self.faults, self.profiles = keys, faults, profiles
        self.limiter = limiter
        self.fields_required = fields_required

    def answer(self, incoming: IncomingRequest) -> Answer:
        if incoming.framing_error:
            return message_answer(*incoming.framing_error)
        if incoming.method != "POST":
            return message_answer(405, "Method Not Allowed", {"Allow": "POST"})
        fault = self.faults.take(EXPORT_PATH)
        if fault is None:
            return self._authorized(incoming)
        if fault.drop_connection:
            answer = DROPPED_CONNECTION
        elif fault.status is not None:
            limit = self.limiter.limit if self.limiter else BRAZE_EXPORT_LIMIT[0]
            answer = fault_status_answer(fault, limit)
        else:
            answer = self._authorized(incoming)
        # Decided now, sent late: the HTTP layer paces it (and stop() can cut it short).
        return replace(answer, pace=fault.pace)

    def _authorized(self, incoming: IncomingRequest) -> Answer:
        refusal = self.keys.refusal(incoming.headers, EXPORT_PERMISSION)
        if refusal is not None:
            return refusal
        if self.limiter is None:
            return self._validated(incoming)
        allowed, rate_headers = self.limiter.take()
        answer = self._validated(incoming) if allowed else message_answer(429, RATE_LIMITED)
        answer.headers.update(rate_headers)
        return answer

    def _validated(self, incoming: IncomingRequest) -> Answer:
        if not is_json_content_type(incoming.headers.get("content-type")):
            return message_answer(415, "Content-Type must be application/json")
        try:
            query = export_rules.parse_query(incoming.raw_body, self.fields_required)
        except BodyError as error:
            return message_answer(400, str(error))
        return Answer(201, self.lookup(query))

    def lookup(self, query: export_rules.ExportQuery) -> dict:
        """Each profile once, in the order the request names them; unknown ids listed apart."""
        users: dict[str, dict] = {}
        invalid: list[str] = []
        for identifier, value in query.lookups:
            found = self.profiles.export(identifier, value)
            if not found:
                invalid.append(export_rules.shown_id(identifier, value))
            for user in found:
                users.setdefault(user["braze_id"], export_rules.only_fields(user, query.fields))
        return export_rules.answer_body(list(users.values()), invalid)
