"""The baseline of bench/scale_out.py: a bare Django view that parses the JSON body and inserts
one row, served by the same gunicorn processes, middleware and database as the ingest API."""

import json

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from integration_admin.urls import handler400, handler403, handler404, handler500  # noqa: F401
from integration_admin.urls import urlpatterns as service_urlpatterns

INSERT = "INSERT INTO bench_bare_row (body) VALUES (%s)"


@csrf_exempt
def bare_insert(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(INSERT, [json.dumps(body)])
    return JsonResponse({"success": True}, status=202)


urlpatterns = [path("bench/bare-insert/", bare_insert), *service_urlpatterns]
