"""Pypestream action nodes: Python the solution deploys posts the conversation as JSON.

Reads ``turn_id`` (or the ``X-Turn-Id`` header), ``session_id`` (or ``session.id``) as the
session, ``text`` and ``language``; the parameters are the ``variables`` object's fields, or
every other top-level field when there is none.

Answers flat JSON with ``success``. Action nodes conventionally report ``"success": "true"`` or
``"success": "error"`` as strings; ask for that form with ``?success_format=string`` (or the
``X-Bridge-Success-Format: string`` header) and our ``success`` is that string. 200 on success,
422 or 502 on failure.
"""

from mappings.platforms import flat

DIALECT = flat.Dialect(
    platform_id="pypestream",
    name="Pypestream",
    session_fields=("session_id", "session.id"),
    string_success=True,
)

# No published limit for an action node's calls; we answer as fast as for any person.
ADAPTER = flat.FlatAdapter(DIALECT, default_budget_seconds=8.5)
