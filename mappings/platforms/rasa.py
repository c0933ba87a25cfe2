"""Rasa custom actions: the action server's webhook request in, its events and responses out.

Point ``action_endpoint`` at our route and name the action in the domain. Reads (Rasa's action
server API): ``next_action``, ``sender_id``, ``tracker.slots``, ``tracker.latest_message`` (its
``text`` and ``message_id``), ``tracker.events`` and ``version``. The conversation is the request
without ``domain`` (the bot's configuration, not facts about the user), plus ``bridge``.

Duckling dates carry the user's UTC offset (``1990-04-12T00:00:00.000+01:00`` for 12 April in
Lisbon): in ``bridge.parameters`` a day-grain value becomes that local date, ``1990-04-12``,
never the UTC date (11 April 23:00 there).

Answers ``{"events": [SlotSet ...], "responses": [...]}`` setting ``braze_synced``,
``braze_status`` and ``braze_delivery_id`` (only the slots the domain declares, when the request
carries the domain). A failure the story should handle is a 400 ``{"action_name", "error"}``,
which Rasa takes as the action rejecting its execution.
"""

import re
from collections.abc import Mapping
from typing import Any

from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse, RawRequest

PLATFORM = "Rasa"
OWN_SLOTS = ("braze_synced", "braze_status", "braze_delivery_id")
# A Duckling value of day grain: midnight, local, with the user's offset.
_DUCKLING_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(?:\.0+)?(?:Z|[+-]\d{2}:?\d{2})$")


class Rasa:
    platform_id = "rasa"
    # Rasa waits up to 5 minutes for an action (DEFAULT_REQUEST_TIMEOUT); a person does not.
    default_budget_seconds = 8.5

    def parse(self, raw: RawRequest) -> PlatformRequest:
        request = common.json_object(raw.body, PLATFORM)
        action = common.required_text(request, PLATFORM, "next_action")
        tracker = common.required_object(request, PLATFORM, "tracker", kind="action request")
        sender = common.text_or_none(request.get("sender_id") or tracker.get("sender_id"))
        if sender is None:
            raise common.missing_field(PLATFORM, "sender_id", "action request")
        slots = common.optional_object(request, PLATFORM, "tracker", "slots")
        latest = common.optional_object(request, PLATFORM, "tracker", "latest_message")
        turn_id = common.turn_key(_turn_marker(tracker, latest), sender, action)
        block = common.bridge(
            self.platform_id,
            sender,
            turn_id,
            common.clean_parameters(slots, local_date),
            latest.get("text"),
        )
        conversation = {key: value for key, value in request.items() if key != "domain"}
        reply = {"action_name": action, "declared_slots": _declared_slots(request)}
        return common.platform_request(raw, conversation, block, reply)

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        if outcome.status in ("failed", "rejected"):
            return self.refuse(400, outcome.status, common.outcome_words(outcome), request)
        declared = request.reply_context.get("declared_slots")
        values = {
            "braze_synced": outcome.success,
            "braze_status": outcome.status,
            "braze_delivery_id": outcome.delivery_id,
        }
        events = [
            {"event": "slot", "timestamp": None, "name": name, "value": value}
            for name, value in values.items()
            if declared is None or name in declared
        ]
        responses = []
        if "messages" in request.options:
            responses.append({"text": common.outcome_words(outcome)})
        return PlatformResponse(200, {"events": events, "responses": responses})

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse:
        action = request.reply_context.get("action_name", "") if request else ""
        return PlatformResponse(status, {"action_name": action, "error": message})


def local_date(value: Any) -> Any:
    """A Duckling day-grain value as the user's own calendar date; anything else unchanged."""
    if isinstance(value, str):
        match = _DUCKLING_DAY.match(value.strip())
        if match:
            return match.group(1)
    return value


def _turn_marker(tracker: Mapping[str, Any], latest: Mapping[str, Any]) -> str | None:
    """The latest user message's id, else the time Rasa logged it: unique to the turn."""
    marker = common.text_or_none(latest.get("message_id"))
    if marker:
        return marker
    events = tracker.get("events")
    for event in reversed(events if isinstance(events, list) else []):
        if isinstance(event, Mapping) and event.get("event") == "user":
            return common.text_or_none(event.get("message_id") or event.get("timestamp"))
    return None


def _declared_slots(request: Mapping[str, Any]) -> frozenset[str] | None:
    slots = common.dig(request, "domain", "slots")
    return frozenset(slots) if isinstance(slots, Mapping) else None


ADAPTER = Rasa()
