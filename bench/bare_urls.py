"""The baselines of bench/scale_out.py and bench/lookups.py, served by the same gunicorn
processes, middleware and database as the API.

For scale_out: a bare Django view that parses the JSON body and inserts one row (the issue's goal
is measured against it), and the same insert behind DRF with the API's defaults, to tell the
framework's share apart from the ingest's own work. For lookups: the lookup route's stack
without the lookup (``BareDrfLookup``)."""

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integration_admin.urls import handler400, handler403, handler404, handler500  # noqa: F401
from integration_admin.urls import urlpatterns as service_urlpatterns
from mappings.api import config_lookups
from mappings.api.errors import ApiError

INSERT = "INSERT INTO bench_bare_row (body) VALUES (%s)"


@csrf_exempt
def bare_insert(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [json.dumps(body)])
    return JsonResponse({"success": True}, status=202)


class BareDrfInsert(APIView):
    """The same insert through DRF with the ingest API's defaults: token authentication, the
    client's throttle, the bounded JSON parser, content negotiation and the JSON renderer."""

    def post(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute(INSERT, [json.dumps(request.data)])
        return Response({"success": True}, status=202)


class BareDrfLookup(APIView):
    """What a lookup request costs before and around the lookup: the API's authentication,
    throttle, parser and renderer, the mapping set resolved as the lookup view resolves it
    (kept per process) and the conversation parsed; then a fixed answer, 200, no log row. A
    refused lookup (409) would pay for a WARNING log line a hit does not."""

    def post(self, request: Request, slug: str) -> Response:
        mapping_set = config_lookups.mapping_set_for(request.user, slug)
        if mapping_set is None or not isinstance(request.data, dict):
            raise ApiError(404, "unknown_mapping_set", f"No mapping set with slug '{slug}'")
        body = {"success": True, "status": "found", "outcome": "baseline", "source": None}
        return Response({**body, "fields": {}})


urlpatterns = [
    path("bench/bare-lookup/<slug:slug>/", BareDrfLookup.as_view()),
    path("bench/bare-insert/", bare_insert),
    path("bench/bare-drf-insert/", BareDrfInsert.as_view()),
    *service_urlpatterns,
]
