"""A lookup's answer in each platform's dialect: the profile fields as the bot's own parameters.

Every answer is a 200 (the flow branches on ``braze_lookup_status``: found, not_found or
unknown, and on ``braze_lookup_outcome`` for why), with the fields under the names the mapping
set's read rows give them:

- Dialogflow CX: ``sessionInfo.parameters`` (session parameters);
- Dialogflow ES: the parameters of a ``braze-profile`` output context;
- Rasa: one ``slot`` event per field (only the slots the domain declares, when it sends them);
- Lex V2: ``sessionState.sessionAttributes`` (strings, as Lex keeps them), the intent delegated;
- Voiceflow, Botpress, Pypestream, Twilio Studio: flat JSON, the fields at the top level.
"""

import json
from collections.abc import Callable, Mapping
from typing import Any

from mappings.engine.lookup_mapping import LookupAnswer
from mappings.platforms.base import PlatformRequest, PlatformResponse

PROFILE_CONTEXT = "braze-profile"
_CONTEXT_LIFESPAN = 50  # turns the ES context lives: the rest of a typical conversation


def status_parameters(answer: LookupAnswer) -> dict[str, Any]:
    return {"braze_lookup_status": answer.status, "braze_lookup_outcome": answer.outcome}


def _cx(answer: LookupAnswer, request: PlatformRequest) -> PlatformResponse:
    parameters = {**answer.fields, **status_parameters(answer)}
    return PlatformResponse(200, {"sessionInfo": {"parameters": parameters}})


def _es(answer: LookupAnswer, request: PlatformRequest) -> PlatformResponse:
    session = request.reply_context["session"]
    context = {
        "name": f"{session}/contexts/{PROFILE_CONTEXT}",
        "lifespanCount": _CONTEXT_LIFESPAN,
        "parameters": {**answer.fields, **status_parameters(answer)},
    }
    return PlatformResponse(200, {"outputContexts": [context]})


def _rasa(answer: LookupAnswer, request: PlatformRequest) -> PlatformResponse:
    declared = request.reply_context.get("declared_slots")
    values = {**answer.fields, **status_parameters(answer)}
    events = [
        {"event": "slot", "timestamp": None, "name": name, "value": value}
        for name, value in values.items()
        if declared is None or name in declared
    ]
    return PlatformResponse(200, {"events": events, "responses": []})


def _lex(answer: LookupAnswer, request: PlatformRequest) -> PlatformResponse:
    reply = request.reply_context
    attributes = {key: _lex_text(value) for key, value in reply["attributes"].items()}
    values = {**answer.fields, **status_parameters(answer)}
    attributes |= {key: _lex_text(value) for key, value in values.items()}
    intent = {key: value for key, value in reply["intent"].items() if key != "kendraResponse"}
    state: dict[str, Any] = {
        "sessionAttributes": attributes,
        "dialogAction": {"type": "Delegate"},
        "intent": intent,
    }
    if isinstance(reply.get("contexts"), list):
        state["activeContexts"] = reply["contexts"]
    return PlatformResponse(200, {"sessionState": state})


def _lex_text(value: Any) -> str:
    """Lex session attributes are strings: booleans as true/false, objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _flat(answer: LookupAnswer, request: PlatformRequest) -> PlatformResponse:
    success: bool | str = answer.status != "unknown"
    if request.options.get("success_format") == "string":
        success = "true" if success else "error"
    body = {**answer.fields, "success": success, **status_parameters(answer)}
    if answer.message:
        body["message"] = answer.message
    return PlatformResponse(200, body)


_BY_PLATFORM: dict[str, Callable[[LookupAnswer, PlatformRequest], PlatformResponse]] = {
    "dialogflow-cx": _cx,
    "dialogflow-es": _es,
    "rasa": _rasa,
    "lex-v2": _lex,
}


def respond_lookup(
    platform_id: str, answer: LookupAnswer, request: PlatformRequest
) -> PlatformResponse:
    """``answer`` in ``platform_id``'s dialect (flat JSON for the builders without one)."""
    return _BY_PLATFORM.get(platform_id, _flat)(answer, request)
