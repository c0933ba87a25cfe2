"""Ingest API views: parse, authenticate, call one service function, shape the response."""

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mappings.api.errors import ApiError
from mappings.api.serializers import ingest_response
from mappings.models import MappingSet
from mappings.services import delivery, preview


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

    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        conversation = _conversation(request)
        body, status = ingest_response(delivery.ingest(mapping_set, request.user, conversation))
        return Response(body, status=status)


class PreviewView(APIView):
    """POST a conversation; answers the exact Braze body and problems. Sends and stores nothing."""

    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        result = preview.preview(mapping_set, _conversation(request))
        return Response(result.as_dict())


def _conversation(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object")
    return request.data
