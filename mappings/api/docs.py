"""OpenAPI documentation of each API operation, kept out of the views so they stay thin.

Shapes, error responses and the error-code table live in mappings/api/schema.py; this module
says, per operation, what it does, its parameters, and an example for each answer. After changing
anything here, run ``scripts/openapi`` and commit docs/openapi.yaml (a test checks for drift).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from mappings.api import schema
from mappings.api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

_CONVERSATION_EXAMPLE = {
    "session": {"id": "ps-7f3a9c21", "channel": "web"},
    "user": {"id": "user-1001", "first_name": "Ana", "email": "ana.souza@example.com"},
    "answers": {"interest": "travel insurance"},
}
_SENT_EXAMPLE = {
    "attributes": [
        {"external_id": "user-1001", "first_name": "Ana", "email": "ana.souza@example.com"}
    ]
}

_READY_EXAMPLE = {
    "status": "ok",
    "checks": {
        "database": {"ok": True},
        "broker": {"ok": True, "configured": True, "checked": True},
    },
    "queue_depth": 3,
}
_NOT_READY_EXAMPLE = {
    "status": "unavailable",
    "checks": {
        "database": {"ok": True},
        "broker": {"ok": False, "configured": True, "error": "ConnectionError"},
    },
    "queue_depth": 3,
}


_MAPPING_SET_PARAMETERS = [
    OpenApiParameter(
        "slug",
        OpenApiTypes.STR,
        OpenApiParameter.PATH,
        pattern=r"^[-a-zA-Z0-9_]+$",
        description="The mapping set's slug (shown in the admin)",
        examples=[OpenApiExample("Demo", value="pypestream-demo")],
    ),
    OpenApiParameter(
        TIMESTAMP_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Unix seconds; required for clients with a signing secret",
    ),
    OpenApiParameter(
        SIGNATURE_HEADER,
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description='"v1=" + hex HMAC-SHA256(secret, "<timestamp>." + raw body); required '
        "for clients with a signing secret",
    ),
]

INGEST = extend_schema(
    operation_id="ingest_conversation",
    summary="Send a conversation to Braze",
    description=(
        "Maps the posted conversation JSON with the mapping set `slug` and sends the result to "
        "Braze `POST /users/track` now. Every ingest, rejected ones included, is logged."
    ),
    tags=["ingest"],
    parameters=_MAPPING_SET_PARAMETERS,
    request={"application/json": OpenApiTypes.OBJECT},
    examples=[OpenApiExample("Conversation", value=_CONVERSATION_EXAMPLE, request_only=True)],
    responses={
        200: OpenApiResponse(
            schema.IngestAnswerSerializer,
            description="Braze accepted the record",
            examples=[
                OpenApiExample(
                    "Delivered",
                    value={
                        "success": True,
                        "status": "delivered",
                        "delivery_id": "0b8f3c1e-5d7a-4c52-9d35-3f1c2b7e9a10",
                        "sent": _SENT_EXAMPLE,
                        "braze": {"status": 201, "message": "success"},
                    },
                )
            ],
        ),
        422: OpenApiResponse(
            schema.MappingFailedSerializer,
            description="Required fields are missing; nothing was sent to Braze",
            examples=[
                OpenApiExample(
                    "Missing email",
                    value={
                        "success": False,
                        "error": {
                            "code": "mapping_failed",
                            "message": "The conversation is missing required fields: user.email",
                            "details": {
                                "missing": ["user.email"],
                                "problems": [
                                    {
                                        "source_path": "user.email",
                                        "target": "email",
                                        "code": "missing",
                                        "reason": "required field is missing",
                                    }
                                ],
                            },
                        },
                        "status": "rejected",
                        "delivery_id": "0b8f3c1e-5d7a-4c52-9d35-3f1c2b7e9a10",
                    },
                )
            ],
        ),
        502: OpenApiResponse(
            schema.IngestFailedSerializer,
            description="Braze refused the record or could not be reached; logged as failed",
            examples=[
                OpenApiExample(
                    "Braze down",
                    value={
                        "success": False,
                        "status": "failed",
                        "delivery_id": "0b8f3c1e-5d7a-4c52-9d35-3f1c2b7e9a10",
                        "sent": _SENT_EXAMPLE,
                        "braze": {"status": 503, "message": "Braze answered 503"},
                        "error": {"code": "braze_failed", "message": "Braze answered 503"},
                    },
                )
            ],
        ),
        **schema.error_responses(400, 401, 403, 404, 405, 406, 413, 415, 429, 503),
    },
)


LIVENESS = extend_schema(
    operation_id="liveness",
    summary="Liveness: the process answers",
    description="Touches nothing else (no database), so a slow database never kills pods.",
    tags=["health"],
    responses={
        200: OpenApiResponse(
            schema.LivenessSerializer,
            description="The process is up",
            examples=[OpenApiExample("Up", value={"status": "ok"})],
        )
    },
)


READINESS = extend_schema(
    operation_id="readiness",
    summary="Readiness: database, broker, queue depth",
    description="503 when the database (or a configured broker) is unreachable.",
    tags=["health"],
    responses={
        200: OpenApiResponse(
            schema.ReadinessSerializer,
            description="Ready to take traffic",
            examples=[OpenApiExample("Ready", value=_READY_EXAMPLE)],
        ),
        503: OpenApiResponse(
            schema.ReadinessSerializer,
            description="A dependency is down; take this instance out of rotation",
            examples=[OpenApiExample("Broker down", value=_NOT_READY_EXAMPLE)],
        ),
    },
)


PREVIEW = extend_schema(
    operation_id="preview_conversation",
    summary="Preview the Braze body for a conversation, sending nothing",
    description=(
        "Maps the posted conversation with the mapping set `slug` exactly as an ingest would and "
        "answers the `/users/track` body and every problem. Nothing is sent to Braze and nothing "
        "is stored. `would_send` is false when an ingest of it would be rejected (422)."
    ),
    tags=["ingest"],
    parameters=_MAPPING_SET_PARAMETERS,
    request={"application/json": OpenApiTypes.OBJECT},
    examples=[OpenApiExample("Conversation", value=_CONVERSATION_EXAMPLE, request_only=True)],
    responses={
        200: OpenApiResponse(
            schema.PreviewSerializer,
            description="The body an ingest would send, and its problems",
            examples=[
                OpenApiExample(
                    "Would send",
                    value={
                        "success": True,
                        "would_send": True,
                        "mapping_version": 3,
                        "payload": _SENT_EXAMPLE,
                        "problems": [],
                        "missing": [],
                    },
                )
            ],
        ),
        **schema.error_responses(400, 401, 403, 404, 405, 406, 413, 415, 429, 503),
    },
)
