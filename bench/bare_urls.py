"""The baselines of bench/scale_out.py, served by the same gunicorn processes, middleware and
database as the ingest API: a bare Django view that parses the JSON body and inserts one row (the
issue's goal is measured against it), and the same insert behind DRF with the API's defaults, to
tell the framework's share apart from the ingest's own work."""

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


urlpatterns = [
    path("bench/bare-insert/", bare_insert),
    path("bench/bare-drf-insert/", BareDrfInsert.as_view()),
    *service_urlpatterns,
]
