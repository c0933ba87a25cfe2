"""What the platform routes hand their adapter: the request as it arrived, and the ingest's answer
as an ``Outcome``.

A platform route answers exactly what the generic ingest API would have answered, translated: the
ingest API's body and status (mappings/api/serializers.py) become one ``Outcome``, which the
platform's adapter (mappings/platforms/) turns into the platform's dialect. An idempotent repeat
gets the stored generic answer back, so the translation is the same for a first call and its
repeats.
"""

from typing import Any

from django.http import HttpResponse
from rest_framework.request import Request

from mappings.api import parsers
from mappings.api.errors import ApiError
from mappings.platforms import common
from mappings.platforms.base import (
    Adapter,
    Outcome,
    PlatformRequest,
    PlatformRequestError,
    PlatformResponse,
    RawRequest,
)

# Headers of a refusal that the platform's answer keeps (the body and its type are the adapter's).
_KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")


def read(adapter: Adapter, request: Request) -> tuple[PlatformRequest | None, ApiError | None]:
    """The platform's request as its adapter reads it, or the 400 saying why it cannot be read.

    The body is ``request.body``: bounded, since ApiBodyLimitMiddleware refuses a declared
    length over API_MAX_BODY_BYTES on every /api/ path, and kept, so request signing can read the
    same bytes. JSON that cannot be stored (NaN, NUL characters, too deep) is refused as on the
    generic route; form bodies are checked after decoding, where ``%00`` becomes a NUL.
    """
    raw = RawRequest(
        request.body, request.content_type or "", request.headers, request.query_params.dict()
    )
    is_json = _is_json(raw.content_type)
    try:
        if is_json and raw.body.strip():  # an empty body is the adapter's to name
            parsers.checked_json(raw.body)
        platform_request = adapter.parse(raw)
        if not is_json:  # what the JSON check above cannot have seen
            parsers.check_shape(platform_request.conversation)
    except PlatformRequestError as error:
        return None, ApiError(400, "invalid_platform_request", str(error))
    except ApiError as error:
        return None, error
    return platform_request, None


def _is_json(content_type: str) -> bool:
    kind = common.media_type(content_type)
    return kind in ("application/json", "") or kind.endswith("+json")


def outcome(body: dict[str, Any], status: int) -> Outcome:
    """The ingest API's answer (its JSON body and HTTP status) as an adapter's ``Outcome``."""
    braze = body.get("braze") or {}
    error = body.get("error") or {}
    details = error.get("details") or {}
    return Outcome(
        status=_outcome_status(body, status),
        success=body.get("success") is True,
        delivery_id=body.get("delivery_id"),
        braze_status=braze.get("status"),
        braze_message=braze.get("message"),
        braze_errors=tuple(braze.get("errors") or ()),
        problems=tuple(body.get("problems") or details.get("problems") or ()),
        missing=tuple(details.get("missing") or ()),
        message=error.get("message", ""),
    )


def _outcome_status(body: dict[str, Any], status: int) -> str:
    if status == 422:
        return "rejected"
    if status >= 400:  # Braze refused the record (or part of it, with partial_success "fail")
        return "failed"
    if status == 202:
        return "accepted" if body.get("status") == "accepted" else "queued"
    return "delivered"  # in Braze, whole or (partial_success "warn") but for the objects listed


def http_response(
    answer: PlatformResponse, headers_from: HttpResponse | None = None
) -> HttpResponse:
    """The adapter's answer as sent: its bytes as they were measured against platform limits."""
    response = HttpResponse(
        answer.content(), status=answer.status, content_type=answer.content_type
    )
    for name in _KEPT_HEADERS:
        if headers_from is not None and headers_from.has_header(name):
            response[name] = headers_from[name]
    return response
