"""Voiceflow API steps and functions: a body the designer writes, every value a string.

Voiceflow substitutes ``{variables}`` into the API step's body as text: a number arrives as
``"3"``, a boolean as ``"true"``, a variable never set as its initial ``"0"`` or as ``"null"``.
The conversation keeps those strings as sent; in ``bridge.parameters`` the values that mean "not
set" (``"null"``, ``"undefined"``, ``""``) are left out, so one is never sent to Braze as the
text "null". The rest stay strings: the mapping's transforms coerce them by the target's type.

Reads the ``turn_id`` field (or the ``X-Turn-Id`` header), ``user_id`` (Voiceflow's built-in
variable of that name) as the session, ``last_utterance`` as the text and ``locale``. The body is
JSON or form-encoded (the API step offers both); a ``variables`` object, if sent, holds the
parameters, else every other field does.

Answers flat JSON for "capture response", 200 on success; 422 or 502 on failure, which sends the
API step down its Fail path (Voiceflow fails a call answered with a status of 400 or more).
"""

from mappings.platforms import flat

DIALECT = flat.Dialect(
    platform_id="voiceflow",
    name="Voiceflow",
    session_fields=("user_id", "session_id"),
    text_fields=("last_utterance", "text"),
    language_fields=("locale", "language"),
    absent_words=("null", "undefined"),
    accepts_form=True,
)

# The API step gives up after 20 s (general-runtime's default request timeout).
ADAPTER = flat.FlatAdapter(DIALECT, default_budget_seconds=8.5)
