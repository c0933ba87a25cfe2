"""Dialogflow CX (Conversational Agents) standard webhooks: WebhookRequest in, WebhookResponse out.

Reads (Google's WebhookRequest reference): ``detectIntentResponseId`` (always present, the id of
this turn's answer), ``sessionInfo.session`` and ``sessionInfo.parameters`` (keyed by display
name), ``fulfillmentInfo.tag``, ``languageCode``, ``text`` / ``transcript``. The conversation is
the whole request as CX sent it, plus ``bridge``; in ``bridge.parameters`` an ``@sys.date``
object ``{year, month, day}`` becomes ``YYYY-MM-DD`` (the original stays in ``sessionInfo``).

Answers a WebhookResponse whose ``sessionInfo.parameters`` the flow branches on (``braze_synced``,
``braze_status``, ...), with a ``fulfillmentResponse`` text only when asked (``?messages=1``),
never over CX's 64 KiB. Failures are HTTP statuses so CX raises its webhook events: a rejected
conversation is 400 (``webhook.error.bad-request``), a record Braze refused 502 (``webhook.error``),
and the API's 503 (``webhook.error.unavailable``). A slow Braze is a success: ``queued``.
"""

import math
from collections.abc import Mapping
from typing import Any

from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse, RawRequest

PLATFORM = "Dialogflow CX"
MAX_RESPONSE_BYTES = 64 * 1024
_FAILURE_STATUS = {"rejected": 400, "failed": 502}
_DATE_KEYS = {"year", "month", "day"}
_TIME_KEYS = {"hours", "minutes", "seconds", "nanos"}


class DialogflowCx(common.ApiErrorRefusal):
    # Refusals: CX reads no body from a failed call, only its status; the body is for the logs.
    platform_id = "dialogflow-cx"
    default_budget_seconds = 4.0  # CX's webhook timeout defaults to 5 s: the answer is out by 4.5 s

    def parse(self, raw: RawRequest) -> PlatformRequest:
        request = common.json_object(raw.body, PLATFORM)
        response_id = common.required_text(request, PLATFORM, "detectIntentResponseId")
        session = common.required_text(request, PLATFORM, "sessionInfo", "session")
        parameters = common.optional_object(request, PLATFORM, "sessionInfo", "parameters")
        turn_id = common.turn_key(response_id, common.dig(request, "fulfillmentInfo", "tag"))
        session_id = common.last_segment(session)
        block = common.bridge(
            self.platform_id,
            session_id,
            turn_id,
            common.clean_parameters(parameters, readable_value),
            request.get("text") or request.get("transcript"),
            request.get("languageCode"),
        )
        return common.platform_request(raw, request, block)

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        wants_text = "messages" in request.options
        text = common.outcome_words(outcome) if wants_text else ""

        def build(lines: list[str], words: str) -> dict[str, Any]:
            return _webhook_response(outcome, lines, words)

        body = common.fit(build, common.problem_lines(outcome), text, MAX_RESPONSE_BYTES)
        return PlatformResponse(_FAILURE_STATUS.get(outcome.status, 200), body)


def _webhook_response(outcome: Outcome, lines: list[str], text: str) -> dict[str, Any]:
    body: dict[str, Any] = {"sessionInfo": {"parameters": outcome_parameters(outcome, lines)}}
    if text:
        body["fulfillmentResponse"] = {
            "messages": [{"text": {"text": [text]}}],
            "mergeBehavior": "APPEND",
        }
    return body


def outcome_parameters(outcome: Outcome, lines: list[str]) -> dict[str, Any]:
    """The parameters a Dialogflow agent branches on (CX's session, ES's ``braze`` context)."""
    return {
        "braze_synced": outcome.success,
        "braze_status": outcome.status,
        "braze_delivery_id": outcome.delivery_id,
        "braze_problems": lines,
        "braze_problem_count": len(outcome.problems),
        "braze_missing": list(outcome.missing),
    }


def readable_value(value: Any) -> Any:
    """A CX parameter as a mapping reads it: dates as ``YYYY-MM-DD``, a person as the name."""
    if isinstance(value, list):
        return [readable_value(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    keys = set(value)
    if _DATE_KEYS <= keys <= _DATE_KEYS | _TIME_KEYS:
        return _date_text(value)
    if keys == {"name"}:  # @sys.person
        return value["name"]
    return value


def _date_text(value: Mapping[str, Any]) -> Any:
    """``{year, month, day}`` as ``1990-04-12``; with a time (``@sys.date-time``) as
    ``1990-04-12T09:30:00``. A part that is not a whole number leaves the object as it was."""
    parts = {key: _whole(value[key]) for key in value if key != "nanos"}
    if None in parts.values():
        return value
    date = f"{parts['year']:04d}-{parts['month']:02d}-{parts['day']:02d}"
    if not _TIME_KEYS & set(value):
        return date
    hours, minutes = parts.get("hours", 0), parts.get("minutes", 0)
    return f"{date}T{hours:02d}:{minutes:02d}:{parts.get('seconds', 0):02d}"


def _whole(number: Any) -> int | None:
    # CX sends parameter numbers as JSON numbers, often with a fraction: 1990.0
    if isinstance(number, bool) or not isinstance(number, int | float):
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


ADAPTER = DialogflowCx()
