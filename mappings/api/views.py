"""API views: parse, authenticate, call one service function, shape the response.

Every view documents itself with ``extend_schema`` (see mappings/api/schema.py for how).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mappings.api import schema
from mappings.api.errors import ApiError
from mappings.api.serializers import ingest_response
from mappings.api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from mappings.models import MappingSet
from mappings.services import delivery, health

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


def _mapping_set_for(client, slug: str) -> MappingSet:
    mapping_set = (
        MappingSet.objects.select_related("environment__credential").filter(slug=slug).first()
    )
    if mapping_set is None:
        raise ApiError(404, "unknown_mapping_set", f"No mapping set with slug '{slug}'")
    if not client.may_use(mapping_set):
        raise ApiError(403, "forbidden", f"This API client may not use mapping set '{slug}'")
    if not mapping_set.is_active:
        raise ApiError(404, "mapping_set_inactive", f"Mapping set '{slug}' is not active")
    return mapping_set


_INGEST_SCHEMA = extend_schema(
    operation_id="ingest_conversation",
    summary="Send a conversation to Braze",
    description=(
        "Maps the posted conversation JSON with the mapping set `slug` and sends the result to "
        "Braze `POST /users/track` now. Every ingest, rejected ones included, is logged."
    ),
    tags=["ingest"],
    parameters=[
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
    ],
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


class IngestView(APIView):
    """POST a conversation's JSON; it is mapped and sent to Braze /users/track."""

    @_INGEST_SCHEMA
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        conversation = request.data
        if not isinstance(conversation, dict):
            raise ApiError(400, "invalid_body", "The request body must be a JSON object")
        body, status = ingest_response(delivery.ingest(mapping_set, request.user, conversation))
        return Response(body, status=status)


class ProbeView(APIView):
    """Public, unthrottled endpoints for load balancers."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class LivenessView(ProbeView):
    @extend_schema(
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
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(ProbeView):
    @extend_schema(
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
    def get(self, request: Request) -> Response:
        result = health.readiness()
        return Response(result.as_dict(), status=200 if result.ready else 503)
