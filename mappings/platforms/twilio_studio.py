"""Twilio Studio's Make HTTP Request widget: form-encoded by default, JSON when chosen.

The widget sends the HTTP parameters its author lists (form-encoded, the default content type)
or the JSON body they write. We read ``turn_id`` (or the ``X-Turn-Id`` header), ``session_id``
(e.g. ``{{contact.channel.address}}``) and ``text`` (or ``Body``); every other field is a
parameter. Form values are strings; an empty one is left out of ``bridge.parameters``.

Answers a flat JSON object under Studio's 64 kB limit, which Studio parses into the widget's
variables (``widgets.<name>.parsed.success``). 200 takes the Success transition; 422 or 502 take
Fail. Studio waits 10 s for the answer.
"""

from mappings.platforms import flat

DIALECT = flat.Dialect(
    platform_id="twilio-studio",
    name="Twilio Studio",
    session_fields=("session_id",),
    text_fields=("text", "Body"),
    parameter_objects=(),  # a form cannot nest: every field is a parameter
    accepts_form=True,
    max_response_bytes=64_000,
)

# Studio fails the widget after 10 s.
ADAPTER = flat.FlatAdapter(DIALECT, default_budget_seconds=8.5)
