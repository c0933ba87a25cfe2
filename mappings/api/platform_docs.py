"""OpenAPI documentation of the platform routes (``POST /api/v1/platforms/<platform>/<slug>/``).

Kept apart from docs.py, which documents the generic API: each platform has its own request and
answer shapes, written from its public documentation (docs/platforms.md says which). The
examples, one request and its answers per platform, are built by platform_examples.py from the
committed samples and the adapters themselves.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from mappings.api import platform_examples
from mappings.api.docs import MAPPING_SET_PARAMETERS, MODE_PARAMETER
from mappings.platforms import ADAPTERS

PLATFORM_PARAMETER = OpenApiParameter(
    "platform",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=sorted(ADAPTERS),
    description="The bot platform whose webhook calls this route; it reads the request and "
    "writes the answer in that platform's dialect",
)
_OPTIONS = [
    OpenApiParameter(
        "messages",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=False,
        enum=["1"],
        description="Add one short sentence for the end user to the answer (Dialogflow, Rasa, "
        "Lex); the X-Bridge-Messages header does the same",
    ),
    OpenApiParameter(
        "success_format",
        OpenApiTypes.STR,
        OpenApiParameter.QUERY,
        required=False,
        enum=["string"],
        description='Pypestream: `"success": "true"` or `"error"` instead of a boolean (or the '
        "X-Bridge-Success-Format header)",
    ),
    MODE_PARAMETER,
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Up to 255 characters; without it the platform's own turn id is the key "
        "(docs/platforms.md says which field), so a resent turn reaches Braze once and gets "
        "the first answer back",
    ),
    OpenApiParameter(
        "X-Turn-Id",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Voiceflow, Botpress, Pypestream, Twilio Studio: the turn id, instead of a "
        "`turn_id` field in the body",
    ),
]

_DESCRIPTIONS = {
    200: "The platform's success answer: in Braze, or stored and retried (`queued` when Braze "
    "is slower than the platform's budget). Dialogflow ES and Lex also answer a failure with "
    "200, in their own fields (a context, an intent Failed), since they read no failed call",
    400: "A request the route cannot read, a token in the query string, or (Dialogflow CX, "
    "Rasa) a conversation the mapping rejected",
    401: "No token, or an unknown, revoked or expired one",
    403: "The API client may not use this mapping set",
    404: "An unknown platform or mapping set",
    409: "An Idempotency-Key reused with another body",
    413: "The body is over the size limit",
    422: "Voiceflow, Botpress, Pypestream, Twilio Studio: the mapping rejected the conversation",
    429: "Over the client's rate limit; Retry-After says when to come back",
    502: "Braze refused the record (or part of it, where the set's partial_success is fail)",
    503: "The database is unreachable; nothing was accepted",
}


def _responses() -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description=_DESCRIPTIONS[status],
            examples=platform_examples.answer_examples(status),
        )
        for status in platform_examples.DOCUMENTED_STATUSES
    }


PLATFORM_INGEST = extend_schema(
    operation_id="ingest_platform_webhook",
    summary="A bot platform's own webhook call, answered in its dialect",
    description=(
        "The same ingest as `POST /api/v1/ingest/{slug}/` (mapping, outbox, log, idempotency), "
        "read from and answered in the platform's own request and response shapes, within the "
        "platform's deadline. Authenticate with `Authorization: Bearer <token>`, or HTTP Basic "
        "with the token as the password (any user name) where the platform can only put "
        "credentials in the URL; never a token in the query string (400 `token_in_url`). "
        "Without an `Idempotency-Key` the platform's own turn id is the key: a retried turn "
        "reaches Braze once. Every refusal is in the platform's dialect too. The examples are "
        "each platform's sample request (examples/platforms/) and its adapter's answers; "
        "docs/platforms.md says what to paste where on each platform."
    ),
    tags=["platforms"],
    parameters=[PLATFORM_PARAMETER, *MAPPING_SET_PARAMETERS, *_OPTIONS],
    request={
        "application/json": OpenApiTypes.OBJECT,
        "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
    },
    examples=platform_examples.request_examples(),
    responses=_responses(),
)
