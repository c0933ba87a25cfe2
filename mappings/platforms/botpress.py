"""Botpress: an Execute Code card (or a webhook) posts the turn with axios.

Botpress has no webhook format of its own for this: the card's code sends what it chooses. We
read ``turn_id`` (or the ``X-Turn-Id`` header; the card has ``event.id``, unique to the incoming
message), ``conversation_id`` as the session (``event.conversationId``), ``text``
(``event.preview``) and ``language``; the parameters are the ``user`` object's fields overlaid
by the ``variables`` object's (the workflow's), or every other field when neither is sent.

Answers flat JSON with ``success``; 200 on success, 422 or 502 on failure (axios rejects a
non-2xx answer, so the card's catch or error path handles it; ``validateStatus`` can keep it).
"""

from mappings.platforms import flat

DIALECT = flat.Dialect(
    platform_id="botpress",
    name="Botpress",
    session_fields=("conversation_id", "conversationId", "session_id"),
    text_fields=("text", "preview"),
    parameter_objects=("user", "variables"),
)

# Botpress Cloud gives a bot 60 s to process a message or event.
ADAPTER = flat.FlatAdapter(DIALECT, default_budget_seconds=8.5)
