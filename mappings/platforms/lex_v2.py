"""Amazon Lex V2 code hooks: Lex calls only AWS Lambda, so a small Lambda forwards its event here.

Reads (Lex V2's Lambda input event): ``sessionId``, ``invocationSource`` (DialogCodeHook or
FulfillmentCodeHook), ``inputTranscript``, ``bot.localeId``, ``sessionState.intent`` (its name and
``slots``: each slot's ``value.interpretedValue``, lists and composite slots too),
``sessionState.sessionAttributes`` (strings) and ``sessionState.originatingRequestId``, Lex's
"unique identifier for a specific request": with the session and the invocation source it is the
turn, so a fulfillment after a dialog hook in the same request is its own delivery.

``bridge.parameters``: the slots' interpreted values, over the session attributes (slots win).

Answers what the Lambda returns to Lex, always a valid response (a Lambda error would break the
conversation): ``sessionState.sessionAttributes`` with ``braze_synced`` ("true"/"false"),
``braze_status`` and ``braze_delivery_id`` as strings (Lex attributes are strings), the intent
echoed, and ``dialogAction`` Delegate after a dialog hook (Lex goes on eliciting) or Close after
fulfillment with ``intent.state`` Fulfilled or Failed.
"""

from collections.abc import Mapping
from typing import Any

from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse, RawRequest

PLATFORM = "Amazon Lex V2"
FULFILLMENT = "FulfillmentCodeHook"
_MAX_MESSAGE_CHARS = 640  # a spoken or chat message, kept short


class LexV2(common.ApiErrorRefusal):
    platform_id = "lex-v2"
    # The forwarding Lambda must outlive this: set its timeout to 10 s (AWS's default is 3 s).
    default_budget_seconds = 8.0

    def parse(self, raw: RawRequest) -> PlatformRequest:
        event = common.json_object(raw.body, PLATFORM)
        session_id = common.required_text(event, PLATFORM, "sessionId")
        source = common.required_text(event, PLATFORM, "invocationSource")
        intent = common.optional_object(event, PLATFORM, "sessionState", "intent")
        if not common.text_or_none(intent.get("name")):
            raise common.missing_field(PLATFORM, "sessionState.intent.name", "event")
        slots = common.optional_object(event, PLATFORM, "sessionState", "intent", "slots")
        attributes = common.optional_object(event, PLATFORM, "sessionState", "sessionAttributes")
        request_id = common.dig(event, "sessionState", "originatingRequestId")
        turn_id = common.turn_key(request_id, session_id, source)
        readable = {name: slot_value(slot) for name, slot in slots.items()}
        block = common.bridge(
            self.platform_id,
            session_id,
            turn_id,
            common.clean_parameters({**attributes, **readable}),
            event.get("inputTranscript"),
            common.dig(event, "bot", "localeId"),
        )
        reply = {
            "source": source,
            "intent": intent,
            "attributes": attributes,
            "contexts": common.dig(event, "sessionState", "activeContexts"),
        }
        return common.platform_request(raw, event, block, reply)

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        return PlatformResponse(200, _lex_response(outcome.success, outcome, request))

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse:
        if request is None:  # not even a Lex event: nothing to echo back to Lex
            return super().refuse(status, code, message)
        failed = Outcome("rejected", False, message=message)
        return PlatformResponse(status, _lex_response(False, failed, request, code))


def slot_value(slot: Any) -> Any:
    """A Lex slot as its interpreted value; a list slot as a list; a composite as an object."""
    if not isinstance(slot, Mapping):
        return None
    if slot.get("shape") == "List" and isinstance(slot.get("values"), list):
        values = [slot_value(item) for item in slot["values"]]
        return [value for value in values if value is not None] or None
    if isinstance(slot.get("subSlots"), Mapping):
        parts = {name: slot_value(sub) for name, sub in slot["subSlots"].items()}
        return {name: value for name, value in parts.items() if value is not None} or None
    return common.dig(slot, "value", "interpretedValue")


def _lex_response(
    synced: bool, outcome: Outcome, request: PlatformRequest, status: str | None = None
) -> dict[str, Any]:
    reply = request.reply_context
    attributes = {key: str(value) for key, value in reply["attributes"].items()}
    attributes |= {
        "braze_synced": "true" if synced else "false",
        "braze_status": status or outcome.status,
        "braze_delivery_id": outcome.delivery_id or "",
    }
    intent = {key: value for key, value in reply["intent"].items() if key != "kendraResponse"}
    action = {"type": "Delegate"}
    if reply["source"] == FULFILLMENT:
        action = {"type": "Close"}
        intent["state"] = "Fulfilled" if synced else "Failed"
    state: dict[str, Any] = {
        "sessionAttributes": attributes,
        "dialogAction": action,
        "intent": intent,
    }
    if isinstance(reply["contexts"], list):
        state["activeContexts"] = reply["contexts"]
    body: dict[str, Any] = {"sessionState": state}
    if "messages" in request.options:
        text = common.clip(common.outcome_words(outcome), _MAX_MESSAGE_CHARS)
        body["messages"] = [{"contentType": "PlainText", "content": text}]
    return body


ADAPTER = LexV2()
