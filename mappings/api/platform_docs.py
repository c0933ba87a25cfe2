"""OpenAPI documentation of the platform routes (``POST /api/v1/platforms/<platform>/<slug>/``).

Kept apart from docs.py, which documents the generic API: each platform has its own request and
answer shapes, written from its public documentation (docs/platforms.md says which).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from mappings.api.docs import MAPPING_SET_PARAMETERS
from mappings.platforms import ADAPTERS

_PLATFORM_PARAMETER = OpenApiParameter(
    "platform",
    OpenApiTypes.STR,
    OpenApiParameter.PATH,
    enum=sorted(ADAPTERS),
    description="The bot platform whose webhook calls this route; it reads the request and "
    "writes the answer in that platform's dialect",
)

_REFUSALS = {
    400: "The platform's request cannot be read, or a token was put in the query string",
    401: "No token, or a bad one",
    403: "This API client may not use the mapping set",
    404: "No such platform or mapping set",
    409: "The Idempotency-Key was used with another body",
    413: "The body is over the size limit",
    422: "The conversation could not be mapped (platforms that take failure as a status)",
    429: "Over the client's rate limit; Retry-After says when to come back",
    502: "Braze refused the record (platforms that take failure as a status)",
    503: "The service is unavailable; Retry-After says when to come back",
}

PLATFORM_INGEST = extend_schema(
    operation_id="ingest_platform_webhook",
    summary="A bot platform's own webhook call, answered in its dialect",
    description=(
        "The same ingest as `POST /api/v1/ingest/{slug}/` (mapping, outbox, log, idempotency), "
        "read from and answered in the platform's own request and response shapes, within the "
        "platform's deadline. Authenticate with `Authorization: Bearer <token>`, or HTTP Basic "
        "with the token as the password (any user name) where the platform can only put "
        "credentials in the URL; never a token in the query string. Without an "
        "`Idempotency-Key` the platform's own turn id is the key: a retried turn reaches Braze "
        "once."
    ),
    tags=["platforms"],
    parameters=[_PLATFORM_PARAMETER, *MAPPING_SET_PARAMETERS],
    request={
        "application/json": OpenApiTypes.OBJECT,
        "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
    },
    responses={
        200: OpenApiResponse(OpenApiTypes.OBJECT, description="The platform's success answer"),
        # Refusals are in the platform's dialect too (Rasa's {action_name, error}, a Lex
        # response, ...), so their shape is the platform's, not the API's error object.
        **{
            status: OpenApiResponse(OpenApiTypes.OBJECT, description=description)
            for status, description in _REFUSALS.items()
        },
    },
)
