"""One error shape for every API error: ``{"success": false, "error": {code, message, details}}``.

``success`` is there on errors too, so a conversation flow can branch on one field whatever
happened.
"""

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

# DRF's own codes, renamed where ours say more to an integrator.
_CODES = {
    "parse_error": "malformed_json",
    "not_authenticated": "not_authenticated",
    "authentication_failed": "invalid_token",
    "permission_denied": "forbidden",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "rate_limited",
}


class ApiError(exceptions.APIException):
    """An error with our own stable code and optional details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.error_code = code
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": error}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, str(exc.detail), exc.details)
        return response
    if isinstance(exc, exceptions.APIException):
        code = _CODES.get(exc.default_code, exc.default_code)
        detail = exc.detail if isinstance(exc.detail, str) else None
        details = None if detail is not None else exc.detail
        response.data = error_body(code, str(detail or exc.default_detail), details)
    return response
