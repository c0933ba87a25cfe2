"""Dialogflow ES (v2) fulfillment webhooks: WebhookRequest in, WebhookResponse out.

Reads (Google's v2 WebhookRequest reference): ``responseId`` (the id of this turn's answer),
``session``, ``queryResult.parameters``, ``queryResult.outputContexts`` (parameters collected
earlier in the session), ``queryResult.queryText`` and ``languageCode``. The conversation is the
whole request plus ``bridge``; ``bridge.parameters`` merges the active contexts' parameters with
the intent's own (the intent's win), without ES's ``<name>.original`` copies, its system
contexts (``__system_counters__``) and the empty strings ES sends for optional parameters the
user did not fill.

Answers ``outputContexts``: a ``braze`` context carrying ``braze_synced``, ``braze_status``, ...,
plus a ``braze-synced`` or ``braze-failed`` context (the other one ended) that follow-up intents
can require as an input context, which is how an ES agent branches. ES has no event for a failed
webhook (it silently falls back to the intent's own responses and keeps none of ours), so every
outcome is a 200. ``fulfillmentText`` is set only when asked (``?messages=1``): otherwise the
intent's own responses are what the user sees.
"""

from collections.abc import Mapping
from typing import Any

from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse, RawRequest
from mappings.platforms.dialogflow_cx import outcome_parameters, readable_value

PLATFORM = "Dialogflow ES"
MAX_RESPONSE_BYTES = 64 * 1024
CONTEXT_LIFESPAN = 5  # turns the braze context stays readable


class DialogflowEs(common.ApiErrorRefusal):
    platform_id = "dialogflow-es"
    default_budget_seconds = 4.0  # ES waits 5 s (10 s for Actions on Google): out by 4.5 s

    def parse(self, raw: RawRequest) -> PlatformRequest:
        request = common.json_object(raw.body, PLATFORM)
        response_id = common.required_text(request, PLATFORM, "responseId")
        session = common.required_text(request, PLATFORM, "session")
        result = common.required_object(request, PLATFORM, "queryResult")
        session_id = common.last_segment(session)
        block = common.bridge(
            self.platform_id,
            session_id,
            response_id,
            _parameters(request, result),
            result.get("queryText"),
            result.get("languageCode"),
        )
        return common.platform_request(raw, request, block, {"session": session})

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        session = request.reply_context["session"]
        text = common.outcome_words(outcome) if "messages" in request.options else ""

        def build(lines: list[str], words: str) -> dict[str, Any]:
            return _webhook_response(outcome, session, lines, words)

        body = common.fit(build, common.problem_lines(outcome), text, MAX_RESPONSE_BYTES)
        return PlatformResponse(200, body)


def _parameters(request: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    contexts = result.get("outputContexts")
    for context in contexts if isinstance(contexts, list) else []:
        found = common.dig(context, "parameters")
        if isinstance(found, Mapping) and not _is_system(context):
            merged.update({k: v for k, v in found.items() if not k.endswith(".original")})
    merged.update(common.optional_object(request, PLATFORM, "queryResult", "parameters"))
    return common.clean_parameters(merged, readable_value)


def _is_system(context: Mapping[str, Any]) -> bool:
    """ES's own bookkeeping contexts (``__system_counters__``), not facts the user gave."""
    return (common.last_segment(common.text_or_none(context.get("name"))) or "").startswith("__")


def _webhook_response(
    outcome: Outcome, session: str, lines: list[str], text: str
) -> dict[str, Any]:
    synced, ended = ("braze-synced", "braze-failed")
    if not outcome.success:
        synced, ended = ended, synced
    parameters = outcome_parameters(outcome, lines)
    body: dict[str, Any] = {
        "outputContexts": [
            _context(session, "braze", CONTEXT_LIFESPAN, parameters),
            _context(session, synced, 2),
            _context(session, ended, 0),  # a lifespan of 0 ends the context
        ]
    }
    if text:
        body["fulfillmentText"] = text
        body["fulfillmentMessages"] = [{"text": {"text": [text]}}]
    return body


def _context(
    session: str, name: str, lifespan: int, parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {"name": f"{session}/contexts/{name}", "lifespanCount": lifespan}
    if parameters is not None:
        context["parameters"] = dict(parameters)
    return context


ADAPTER = DialogflowEs()
