"""One error shape for every API error: ``{"success": false, "error": {code, message, details}}``.

``success`` is there on errors too, so a conversation flow can branch on one field whatever
happened. DRF errors come through ``api_exception_handler``; errors Django raises outside DRF
(unknown URL, a crash, a bad Host header) come through the ``handler*`` views below, which answer
this same JSON shape for every path under ``/api/`` and Django's usual pages elsewhere.

Codes are stable: integrators branch on them. The full list is in docs/security.md and in the
OpenAPI description (mappings/api/schema.py).
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response

from mappings.delivery import metrics

logger = logging.getLogger(__name__)

# DRF's own codes, renamed where ours say more to an integrator.
_CODE_FOR_DRF_CODE = {
    "parse_error": "malformed_json",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "invalid_token",
    "permission_denied": "forbidden",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "not_acceptable": "not_acceptable",
    "throttled": "rate_limited",
}

# Seconds a client should wait before retrying when the database is unreachable.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5


class ApiError(exceptions.APIException):
    """An error with our own stable code and optional details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.error_code = code
        self.details = details


class ApiAuthenticationFailed(exceptions.AuthenticationFailed):
    """A 401 with our own code; DRF adds the ``WWW-Authenticate`` header for this class."""

    def __init__(self, code: str, message: str):
        super().__init__(detail=message, code=code)
        self.error_code = code
        self.details = None


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": error}


def _database_unavailable(exc: Exception) -> Response:
    # Never a 2xx and never a 500 page: the client should retry, nothing was acknowledged.
    logger.error("Database unavailable while answering an API request: %s", type(exc).__name__)
    response = Response(
        error_body("service_unavailable", "The service is temporarily unavailable; retry later"),
        status=503,
    )
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def _body_for(exc: exceptions.APIException) -> dict[str, Any]:
    code = getattr(exc, "error_code", None)
    if code is not None:
        return error_body(code, str(exc.detail), exc.details)
    code = _CODE_FOR_DRF_CODE.get(exc.default_code, exc.default_code)
    detail = exc.detail if isinstance(exc.detail, str) else None
    details = None if detail is not None else exc.detail
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after_seconds": int(exc.wait + 0.999)}
    return error_body(code, str(detail or exc.default_detail), details)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, OperationalError | InterfaceError):
        return _database_unavailable(exc)
    # Imported here: DRF loads our authentication class (which imports this module) while
    # rest_framework.views itself is still being imported.
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None  # Django's handler500 answers, in this same shape under /api/
    if isinstance(exc, exceptions.APIException):
        response.data = _body_for(exc)
        _count_refusal(context, response)
    return response


# Answers to a conversation that was taken: the ingest counts those by outcome itself.
COUNTED_BY_INGEST = {"idempotency_conflict"}


def _count_refusal(context: dict, response: Response) -> None:
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
    code = error.get("code")
    if code not in COUNTED_BY_INGEST:
        route = getattr(match, "url_name", "")
        metrics.count_refusal(route, response.status_code, code)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _json_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json_error(400, "bad_request", "The request could not be understood")
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json_error(403, "forbidden", "You may not access this resource")
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return _json_error(404, "not_found", "No API endpoint at this URL")
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return _json_error(500, "server_error", "Internal error; it has been logged")
    return defaults.server_error(request)
