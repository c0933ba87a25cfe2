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


MAPPING_SET_PARAMETERS = [
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

_DELIVERY_ID = "0b8f3c1e-5d7a-4c52-9d35-3f1c2b7e9a10"
MODE_PARAMETER = OpenApiParameter(
    "mode",
    OpenApiTypes.STR,
    OpenApiParameter.QUERY,
    required=False,
    enum=["sync", "async"],
    description="Overrides the mapping set's delivery mode for this request (the "
    "X-Delivery-Mode header does the same)",
)
_INGEST_PARAMETERS = [
    *MAPPING_SET_PARAMETERS,
    MODE_PARAMETER,
    OpenApiParameter(
        "Idempotency-Key",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        required=False,
        description="Up to 255 characters. A repeat within 24 h answers the first answer again "
        "(with Idempotent-Replayed: true) and never calls Braze twice; the same key with another "
        "body is refused with 409",
    ),
]

INGEST = extend_schema(
    operation_id="ingest_conversation",
    summary="Send a conversation to Braze",
    description=(
        "Maps the posted conversation JSON with the mapping set `slug`, stores it in the outbox "
        "and delivers it to Braze `POST /users/track`. In sync mode the answer waits (up to a "
        "configured budget) for Braze; in async mode it answers 202 at once. Every ingest, "
        "rejected ones included, is logged; `success` is the field a flow branches on."
    ),
    tags=["ingest"],
    parameters=_INGEST_PARAMETERS,
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
        202: OpenApiResponse(
            schema.IngestAnswerSerializer,
            description="Stored and certain to be retried: async mode, or Braze was unreachable "
            "or rate-limiting in sync mode",
            examples=[
                OpenApiExample(
                    "Accepted (async)",
                    value={
                        "success": True,
                        "status": "accepted",
                        "delivery_id": _DELIVERY_ID,
                        "sent": _SENT_EXAMPLE,
                    },
                ),
                OpenApiExample(
                    "Queued (sync, Braze down)",
                    value={
                        "success": True,
                        "status": "queued",
                        "delivery_id": _DELIVERY_ID,
                        "sent": _SENT_EXAMPLE,
                        "braze": {"status": 503, "message": "Service Unavailable"},
                    },
                ),
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
            description="Braze refused the record for good (bad data, bad key): someone must act; "
            "it is logged as failed and can be replayed",
            examples=[
                OpenApiExample(
                    "Braze refused the key",
                    value={
                        "success": False,
                        "status": "failed",
                        "delivery_id": _DELIVERY_ID,
                        "sent": _SENT_EXAMPLE,
                        "braze": {"status": 401, "message": "Invalid API key"},
                        "error": {"code": "braze_failed", "message": "Braze answered 401"},
                    },
                )
            ],
        ),
        **schema.error_responses(400, 401, 403, 404, 405, 406, 409, 413, 415, 429, 503),
    },
)


DELIVERY = extend_schema(
    operation_id="get_delivery",
    summary="A delivery's state and attempts",
    description="Only the API client that sent the conversation may read its delivery; others "
    "get 404.",
    tags=["deliveries"],
    responses={
        200: OpenApiResponse(
            schema.DeliveryDetailSerializer,
            description="The delivery",
            examples=[
                OpenApiExample(
                    "Delivered on the second attempt",
                    value={
                        "success": True,
                        "delivery_id": _DELIVERY_ID,
                        "status": "delivered",
                        "reason": "",
                        "mapping_set": "pypestream-demo",
                        "external_id": "user-1001",
                        "created_at": "2026-11-20T10:15:00Z",
                        "updated_at": "2026-11-20T10:15:12Z",
                        "next_attempt_at": None,
                        "skipped_attributes": [],
                        "sent": _SENT_EXAMPLE,
                        "attempts": [
                            {
                                "attempt_number": 1,
                                "created_at": "2026-11-20T10:15:00Z",
                                "sent_at": "2026-11-20T10:15:00Z",
                                "outcome": "failed",
                                "response_status": 503,
                                "duration_ms": 41,
                                "error": "Braze answered 503: Service Unavailable",
                                "ambiguous": False,
                                "batch_size": 1,
                                "manual": False,
                            },
                            {
                                "attempt_number": 2,
                                "created_at": "2026-11-20T10:15:11Z",
                                "sent_at": "2026-11-20T10:15:11Z",
                                "outcome": "success",
                                "response_status": 201,
                                "duration_ms": 38,
                                "error": "",
                                "ambiguous": False,
                                "batch_size": 12,
                                "manual": False,
                            },
                        ],
                    },
                )
            ],
        ),
        **schema.error_responses(401, 404, 405, 406, 429, 503),
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
    parameters=MAPPING_SET_PARAMETERS,
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
