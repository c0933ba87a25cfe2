"""What the API needs before anything reads a request: when it arrived, and whether its
declared body is too large.

The parser (mappings/api/parsers.py) enforces the same size limit on the bytes it actually
reads, so a body without a Content-Length (chunked) is bounded too.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from mappings.api.errors import error_body


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.API_MAX_BODY_BYTES
        if request.path.startswith("/api/") and _declared_length(request) > limit:
            body = error_body(
                "payload_too_large",
                f"The request body is larger than the limit of {limit} bytes",
                {"limit_bytes": limit},
            )
            return JsonResponse(body, status=413)
        return self.get_response(request)


ARRIVED_AT = "bridge.arrived_at"


def arrived_at(request: HttpRequest) -> float:
    """When the request reached this process (``time.monotonic()``), stamped by
    ``ArrivalClockMiddleware``; now when it was not."""
    return request.META.get(ARRIVED_AT) or time.monotonic()


class ArrivalClockMiddleware:
    """First in the chain: a bot's deadline counts from its request's arrival, so the sync budget
    includes everything after it (middleware, parsing, mapping, the outbox write)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.META[ARRIVED_AT] = time.monotonic()
        return self.get_response(request)
