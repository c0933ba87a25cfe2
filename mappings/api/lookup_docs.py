"""OpenAPI documentation of the lookup routes (kept out of the views, as docs.py is)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema

from mappings.api import platform_examples, schema
from mappings.api.docs import MAPPING_SET_PARAMETERS
from mappings.api.platform_docs import PLATFORM_PARAMETER

_FOUND = {
    "success": True,
    "status": "found",
    "outcome": "miss",
    "source": "braze",
    "fields": {"customer_tier": "gold", "first_name": "Ana"},
}
_UNKNOWN = {
    "success": False,
    "status": "unknown",
    "outcome": "rate_limited_unknown",
    "source": None,
    "fields": {},
    "message": "Not read from Braze: our export budget for this minute is spent, and nothing "
    "is cached",
}
_CX = {
    "sessionInfo": {
        "parameters": {
            "customer_tier": "gold",
            "first_name": "Ana",
            "braze_lookup_status": "found",
            "braze_lookup_outcome": "hit",
        }
    }
}
_FLAT = {
    "customer_tier": "gold",
    "first_name": "Ana",
    "success": True,
    "braze_lookup_status": "found",
    "braze_lookup_outcome": "miss",
}
_HOW = (
    "Reads the conversation's user (found as a write finds it: the mapping set's identifier "
    "path) from our cache or Braze `POST /users/export/ids`, asking Braze only for the fields "
    "of the set's lookup rows, and answers them under the names those rows give. `status` is "
    "`found`, `not_found` (Braze knows no such user) or `unknown` (not read in time); "
    "`outcome` says how: `hit` (cache), `miss` (Braze), `not_found`, `braze_slow`, "
    "`braze_refused`, `rate_limited_from_cache`, `rate_limited_unknown`, `unidentified`. "
    "The answer is out within the budget from the request's arrival (LOOKUP_BUDGET_SECONDS, "
    "or the platform's); each lookup is logged without profile values."
)

# Refusals are in the platform's dialect, as on its write route.
_REFUSALS = {
    400: "A request the route cannot read, or a token in the query string",
    401: "No token, or an unknown, revoked or expired one",
    403: "The API client may not use this mapping set",
    404: "An unknown platform or mapping set",
    409: "The mapping set has no lookup fields (lookup_not_configured)",
    429: "Over the client's rate limit; Retry-After says when to come back",
}


def _platform_refusals() -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description=description,
            examples=platform_examples.answer_examples(status),
        )
        for status, description in _REFUSALS.items()
    }


LOOKUP = extend_schema(
    operation_id="lookup_user",
    summary="Read what Braze knows about the conversation's user",
    description=_HOW,
    tags=["lookups"],
    parameters=MAPPING_SET_PARAMETERS,
    request={"application/json": OpenApiTypes.OBJECT},
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="The fields, or why they are unknown",
            examples=[OpenApiExample("Found", value=_FOUND), OpenApiExample("Unknown", _UNKNOWN)],
        ),
        **schema.error_responses(400, 401, 403, 404, 409, 429),
    },
)

PLATFORM_LOOKUP = extend_schema(
    operation_id="lookup_platform_user",
    summary="A bot platform's lookup, answered as the platform's own parameters",
    description=_HOW
    + " Read and answered by the platform's adapter: Dialogflow CX session parameters, "
    "Dialogflow ES context parameters, Rasa slot events, Lex session attributes, flat JSON for "
    "Voiceflow, Botpress, Pypestream and Twilio Studio. Authentication, limits and refusals are "
    "the platform write route's.",
    tags=["platforms"],
    parameters=[PLATFORM_PARAMETER, *MAPPING_SET_PARAMETERS],
    request={
        "application/json": OpenApiTypes.OBJECT,
        "application/x-www-form-urlencoded": OpenApiTypes.OBJECT,
    },
    responses={
        200: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="The fields as the platform's parameters (always 200: the flow branches "
            "on braze_lookup_status)",
            examples=[
                OpenApiExample("Dialogflow CX", value=_CX),
                OpenApiExample("Voiceflow, Botpress, Pypestream, Twilio Studio", value=_FLAT),
            ],
        ),
        **_platform_refusals(),
    },
)
