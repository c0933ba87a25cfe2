"""GET /metrics: Prometheus's text format, for the scraper only (see metrics_access.py)."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from mappings.api.metrics_access import refusal
from mappings.delivery import metrics


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = refusal(request)
    if refused is not None:
        status, reason = refused
        return HttpResponse(reason, status=status, content_type="text/plain")
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
