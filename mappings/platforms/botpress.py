"""Botpress: an Execute Code card (or a webhook) posts the turn with axios.

Botpress has no webhook format of its own for this: the card's code sends what it chooses. We
read ``turn_id`` (or the ``X-Turn-Id`` header; the card has ``event.id``, unique to the incoming
message), ``conversation_id`` as the session (``event.conversationId``), ``text``
(``event.preview``) and ``language``; the parameters are the ``user`` object's fields overlaid
by the ``variables`` object's (the workflow's), or every other field when neither is sent.

Answers flat JSON with ``success``; 200 on success, 422 or 502 on failure (axios rejects a
non-2xx answer, so the card's catch or error path handles it; ``validateStatus`` can keep it).
"""

from collections.abc import Mapping

from mappings.platforms import flat
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse

DIALECT = flat.Dialect(
    platform_id="botpress",
    name="Botpress",
    session_fields=("conversation_id", "conversationId", "session_id"),
    text_fields=("text", "preview"),
    parameter_objects=("user", "variables"),
)


class Botpress:
    platform_id = DIALECT.platform_id
    # Botpress Cloud gives a bot 60 s to process a message or event.
    default_budget_seconds = 9.0

    def parse(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str],
        query: Mapping[str, str] | None = None,
    ) -> PlatformRequest:
        return flat.parse(DIALECT, body, content_type, headers, query)

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        return flat.respond(DIALECT, outcome, request)

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse:
        return flat.refuse(status, code, message, request)


ADAPTER = Botpress()
