"""API views: parse, authenticate, call one service function, shape the response.

Each view's OpenAPI documentation is declared in mappings/api/docs.py.
"""

from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mappings.api import docs
from mappings.api.errors import ApiError
from mappings.api.serializers import ingest_response
from mappings.models import MappingSet
from mappings.services import delivery, health, preview


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


class IngestView(APIView):
    """POST a conversation's JSON; it is mapped and sent to Braze /users/track."""

    @docs.INGEST
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        conversation = _conversation(request)
        body, status = ingest_response(delivery.ingest(mapping_set, request.user, conversation))
        return Response(body, status=status)


class ProbeView(APIView):
    """Public, unthrottled endpoints for load balancers."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class LivenessView(ProbeView):
    @docs.LIVENESS
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(ProbeView):
    @docs.READINESS
    def get(self, request: Request) -> Response:
        result = health.readiness()
        return Response(result.as_dict(), status=200 if result.ready else 503)


class PreviewView(APIView):
    """POST a conversation; answers the exact Braze body and problems. Sends and stores nothing."""

    @docs.PREVIEW
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        result = preview.preview(mapping_set, _conversation(request))
        return Response(result.as_dict())


def _conversation(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object")
    return request.data
