"""The platform routes' OpenAPI examples: each platform's sample request and its adapter's answers.

The requests are the committed samples in examples/platforms/<platform>/ (written from each
platform's public documentation, posted to a live server by tests/test_platform_routes.py). The
answers are not written by hand: they are what the platform's adapter answers for that request
and a fixed outcome (delivered; rejected; Braze refused), so the documentation cannot drift from
the code. tests/test_openapi_schema.py checks each documented success answer against a live
server's.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from drf_spectacular.utils import OpenApiExample

from mappings.platforms import ADAPTERS
from mappings.platforms.base import FORM, JSON, Outcome, PlatformResponse, RawRequest

SAMPLES = Path(settings.BASE_DIR) / "examples" / "platforms"
NAMES = {
    "dialogflow-cx": "Dialogflow CX",
    "dialogflow-es": "Dialogflow ES",
    "rasa": "Rasa",
    "voiceflow": "Voiceflow",
    "botpress": "Botpress",
    "pypestream": "Pypestream",
    "twilio-studio": "Twilio Studio",
    "lex-v2": "Amazon Lex V2",
}
DELIVERY_ID = "0b8f3c1e-5d7a-4c52-9d35-3f1c2b7e9a10"
_MISSING = "bridge.parameters.email"

DELIVERED = Outcome(
    "delivered", True, delivery_id=DELIVERY_ID, braze_status=201, braze_message="success"
)
REJECTED = Outcome(
    "rejected",
    False,
    delivery_id=DELIVERY_ID,
    problems=(
        {
            "row": "2",
            "source_path": _MISSING,
            "target": "email",
            "code": "missing",
            "reason": "required field is missing",
        },
    ),
    missing=(_MISSING,),
    message=f"The conversation is missing required fields: {_MISSING}",
)
# Braze's 201 refusing one object, on a mapping set whose partial_success is "fail".
BRAZE_REFUSED = Outcome(
    "failed",
    False,
    delivery_id=DELIVERY_ID,
    braze_status=201,
    braze_message="success",
    braze_errors=(
        {"type": "'external_id' or 'braze_id' or 'user_alias' is required", "input_array":
         "attributes", "index": 0},
    ),
    message="Braze refused 1 of the record's objects",
)  # fmt: skip


def sample(platform: str) -> tuple[RawRequest, str, Any]:
    """The platform's sample as it is posted, its media type, and its value for the schema."""
    if platform == "twilio-studio":
        body = (SAMPLES / platform / "request.txt").read_bytes().strip()
        return RawRequest(body, FORM), FORM, dict(parse_qsl(body.decode(), keep_blank_values=True))
    body = (SAMPLES / platform / "request.json").read_bytes()
    return RawRequest(body, JSON), JSON, json.loads(body)


def answer(platform: str, outcome: Outcome) -> PlatformResponse:
    """What the route answers for the platform's sample when the ingest concludes ``outcome``."""
    adapter = ADAPTERS[platform]
    raw, _, _ = sample(platform)
    return adapter.respond(outcome, adapter.parse(raw))


def request_examples() -> list[OpenApiExample]:
    """One request example per platform, "Dialogflow CX request", in its own media type."""
    examples = []
    for platform, name in NAMES.items():
        _, media_type, value = sample(platform)
        examples.append(
            OpenApiExample(
                f"{name} request",
                value=value,
                request_only=True,
                media_type=media_type,
                description=f"examples/platforms/{platform}/: what {name} sends",
            )
        )
    return examples


def answer_examples(status: int) -> list[OpenApiExample]:
    """The examples of the answers with HTTP ``status``: successes, rejections, refusals."""
    return [
        OpenApiExample(title, value=dict(body), status_codes=[status], response_only=True)
        for title, answered, body in _all_answers()
        if answered == status
    ]


def _all_answers() -> Iterator[tuple[str, int, Any]]:
    for platform, name in NAMES.items():
        for label, outcome in (("answer", DELIVERED), ("rejected", REJECTED)):
            response = answer(platform, outcome)
            yield f"{name} {label}", response.status, response.body
    for platform in ("dialogflow-cx", "twilio-studio"):
        response = answer(platform, BRAZE_REFUSED)
        yield f"{NAMES[platform]} Braze refused", response.status, response.body
    yield from _refusals()


# (status, code, message, platforms): the refusals documented, in the dialects they come in.
_REFUSALS = [
    (
        400,
        "token_in_url",
        "Send the API token in the Authorization header (Bearer, or HTTP Basic with the token "
        "as the password), never in the URL's query string, which is logged",
        ("twilio-studio",),
    ),
    (401, "invalid_token", "Invalid or revoked API token", ("rasa", "voiceflow", "lex-v2")),
    (403, "forbidden", "This API client may not use mapping set 'travel-bot'", ("botpress",)),
    (404, "unknown_mapping_set", "No mapping set with slug 'travel-bot'", ("dialogflow-cx",)),
    (
        409,
        "idempotency_conflict",
        "This Idempotency-Key was used for another body",
        ("pypestream",),
    ),
    (
        413,
        "payload_too_large",
        "The request body is larger than the limit of 1048576 bytes",
        ("voiceflow",),
    ),
    (
        429,
        "rate_limited",
        "Request was throttled. Expected available in 12 seconds.",
        ("twilio-studio",),
    ),
    (
        503,
        "service_unavailable",
        "The service is temporarily unavailable; retry later",
        ("dialogflow-es",),
    ),
]


def _refusals() -> Iterator[tuple[str, int, Any]]:
    for status, code, message, platforms in _REFUSALS:
        for platform in platforms:
            refusal = ADAPTERS[platform].refuse(status, code, message)
            words = code.replace("_", " ")
            yield f"{NAMES[platform]} refusal: {words}", status, refusal.body


DOCUMENTED_STATUSES = sorted({status for _, status, _ in _all_answers()})
