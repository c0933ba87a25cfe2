"""OpenAPI documentation of the platform routes (``POST /api/v1/platforms/<platform>/<slug>/``).

Kept apart from docs.py, which documents the generic API: each platform has its own request and
answer shapes, written from its public documentation (docs/platforms.md says which).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema

from mappings.api import schema
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
        **schema.error_responses(400, 401, 403, 404, 409, 413, 429, 503),
    },
)
