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
from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformResponse, RawRequest

# Headers of a refusal that the platform's answer keeps (the body and its type are the adapter's).
_KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow")


def raw_request(request: Request) -> RawRequest:
    """The parts of the HTTP request an adapter reads; the body bounded, and refused where it is
    JSON that cannot be stored (NaN, NUL characters, too deep), as on the generic route."""
    body = parsers.read_body(request.stream)
    content_type = request.content_type or ""
    kind = common.media_type(content_type)
    is_json = kind in ("application/json", "") or kind.endswith("+json")
    if is_json and body.strip():  # an empty body is the adapter's to name
        parsers.checked_json(body)
    return RawRequest(body, content_type, request.headers, request.query_params.dict())


def check_storable(conversation: dict[str, Any]) -> None:
    """Form bodies too: a ``%00`` decodes to a NUL character, which PostgreSQL cannot store."""
    parsers.check_shape(conversation)


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
    if status >= 400:  # Braze refused the record (or, by the set's policy, part of it)
        return "failed"
    return body["status"] if body.get("status") in ("delivered", "accepted") else "queued"


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
