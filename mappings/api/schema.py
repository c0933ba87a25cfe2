"""The OpenAPI contract: response shapes, error catalogue and examples for every endpoint.

How a new endpoint gets documented (the committed docs/openapi.yaml is checked for drift):

1. Decorate its view method with ``@extend_schema(...)``: ``request`` and ``responses`` with
   the serializers here (or new ones) and ``**error_responses(401, 403, ...)`` for its errors.
2. Regenerate the file: ``scripts/openapi`` (tests/test_openapi_schema.py fails until you do).

drf-spectacular finds every view routed under /api/ by itself; nothing is registered here.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from mappings.api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER

# Every error code the API answers, by status: integrators branch on these.
ERROR_CODES: dict[int, list[str]] = {
    400: [
        "malformed_json",
        "invalid_body",
        "nesting_too_deep",
        "body_too_complex",
        "invalid_string",
        "invalid_number",
        "invalid_mode",
        "invalid_idempotency_key",
        "token_in_url",
        "invalid_platform_request",
        "bad_request",
    ],
    401: [
        "not_authenticated",
        "invalid_token",
        "token_expired",
        "signature_missing",
        "signature_invalid",
        "signature_expired",
        "signature_replayed",
    ],
    403: ["forbidden"],
    404: [
        "unknown_mapping_set",
        "mapping_set_inactive",
        "unknown_delivery",
        "unknown_platform",
        "not_found",
    ],
    405: ["method_not_allowed"],
    406: ["not_acceptable"],
    409: ["idempotency_conflict", "lookup_not_configured"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    422: ["mapping_failed"],
    429: ["rate_limited"],
    500: ["server_error"],
    502: ["braze_failed"],
    503: ["service_unavailable"],
}
_STATUS_NOTES = {
    409: " (an Idempotency-Key reused with another body)",
    413: " (checked from Content-Length before the body is read)",
    429: ", with a `Retry-After` header (seconds)",
    503: ", with a `Retry-After` header",
}
_code_table = "\n".join(
    ["| status | codes |", "|---|---|"]
    + [
        f"| {status} | {', '.join(f'`{code}`' for code in codes)}{_STATUS_NOTES.get(status, '')} |"
        for status, codes in ERROR_CODES.items()
    ]
)

DESCRIPTION = f"""
Conversation platforms post the JSON of a conversation; it is mapped to Braze user attributes
by an admin-configured mapping set and sent to Braze `POST /users/track`. The answer says
`"success": true|false`, so a conversation flow can branch on one field.

## Authentication
`Authorization: Bearer <token>`. Tokens are issued in the admin (*API clients*), shown once,
stored hashed, revocable, optionally expiring, and limited to the mapping sets listed on the
client. The platform routes (`/api/v1/platforms/{{platform}}/{{slug}}/`) also take HTTP Basic
with the token as the password, for webhooks that only take credentials in the URL; a token in
the query string is refused everywhere (`token_in_url`).

## Request signing (per client, optional)
A client with a signing secret must also send `{TIMESTAMP_HEADER}` (Unix seconds) and
`{SIGNATURE_HEADER}: v1=<hex HMAC-SHA256(secret, "<timestamp>." + raw body)>`. Timestamps
more than 5 minutes off and signatures already seen are refused with 401.

## Errors
Every error has one shape: `{{"success": false, "error": {{"code", "message", "details"?}}}}`.
`code` is stable; branch on it, not on `message`. Codes by status:

{_code_table}
"""


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mappings.api.authentication.ApiClientTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token (bzb_...) issued in the admin.",
        }


class BasicTokenScheme(OpenApiAuthenticationExtension):
    """The platform routes' HTTP Basic: for webhooks that only take credentials in the URL."""

    target_class = "mappings.api.authentication.ApiClientBasicAuthentication"
    name = "basicAuth"

    def get_security_definition(self, auto_schema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "basic",
            "description": "Platform routes only: any user name, the API client token as the "
            "password (Twilio Studio's https://bot:<token>@host/..., Dialogflow's user name and "
            "password fields).",
        }


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code; see the table above")
    message = serializers.CharField(help_text="For humans; may change")
    details = serializers.JSONField(
        required=False, help_text="Field-level detail when there is any (missing paths, limits)"
    )


class ErrorResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always false on errors")
    error = ErrorSerializer()


class BrazeSummarySerializer(serializers.Serializer):
    status = serializers.IntegerField(allow_null=True, help_text="Braze's HTTP status")
    message = serializers.CharField(allow_null=True, help_text="Braze's message or our error")
    errors = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Braze's per-object errors, when it refused some",
    )


class IngestAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField(
        help_text="True when the record is in Braze or certain to get there (queued, accepted); "
        "false when someone must act"
    )
    status = serializers.CharField(
        help_text="delivered, queued (tried, will retry), accepted (async, not tried yet), "
        "failed, partial (Braze refused some of the record's objects, listed in braze.errors, "
        "on a mapping set whose partial_success is warn)"
    )
    delivery_id = serializers.UUIDField(help_text="The audit row of this ingest")
    sent = serializers.JSONField(help_text="The /users/track body sent (or to be sent) to Braze")
    braze = BrazeSummarySerializer(
        allow_null=True, required=False, help_text="Braze's answer, when it was called"
    )
    problems = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Fields left out under the mapping set's drop_field policy, and why",
    )
    skipped_attributes = serializers.JSONField(
        required=False, help_text="Attributes not sent because Braze already has that value"
    )


class IngestFailedSerializer(IngestAnswerSerializer):
    error = ErrorSerializer()


class MappingFailedSerializer(ErrorResponseSerializer):
    status = serializers.CharField(help_text="rejected")
    delivery_id = serializers.UUIDField(help_text="The audit row of the rejected ingest")


class ProblemSerializer(serializers.Serializer):
    row = serializers.CharField(allow_null=True, required=False, help_text="Which mapping row")
    source_path = serializers.CharField(help_text="Where in the conversation")
    target = serializers.CharField(help_text="Which Braze field")
    code = serializers.CharField(help_text="missing, invalid, ...")
    reason = serializers.CharField(help_text="Why, for humans")
    value = serializers.JSONField(required=False, help_text="The value (masked if sensitive)")


class PreviewSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="True: the preview was computed")
    would_send = serializers.BooleanField(help_text="False when an ingest would be rejected")
    mapping_version = serializers.IntegerField(help_text="The mapping set version used")
    payload = serializers.JSONField(help_text="The exact /users/track body")
    problems = ProblemSerializer(many=True)
    missing = serializers.ListField(
        child=serializers.CharField(), help_text="Source paths of missing required fields"
    )


class AttemptSerializer(serializers.Serializer):
    attempt_number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True, help_text="Empty: not sent yet")
    outcome = serializers.CharField()
    response_status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    ambiguous = serializers.BooleanField(help_text="Braze may have applied it (timeout, reset)")
    batch_size = serializers.IntegerField(allow_null=True, help_text="Records in that request")
    manual = serializers.BooleanField(help_text="Replayed by a person")


class DeliveryDetailSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="True once delivered")
    delivery_id = serializers.UUIDField()
    status = serializers.CharField(
        help_text="pending, in_flight, retrying, delivered, failed, dead, rejected"
    )
    reason = serializers.CharField(allow_blank=True, help_text="Why it failed or is retrying")
    mapping_set = serializers.CharField()
    external_id = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    skipped_attributes = serializers.JSONField()
    sent = serializers.JSONField(allow_null=True)
    attempts = AttemptSerializer(many=True)


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    configured = serializers.BooleanField(required=False)
    checked = serializers.BooleanField(required=False)
    error = serializers.CharField(required=False, help_text="The failure's class name")


class ChecksSerializer(serializers.Serializer):
    database = CheckSerializer()
    broker = CheckSerializer()


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "unavailable"])
    checks = ChecksSerializer()
    queue_depth = serializers.IntegerField(
        allow_null=True, help_text="Deliveries pending, in flight or retrying"
    )


class LivenessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])


def _error(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"success": False, "error": error}


# status -> (description, [(example name, code, message, details)])
_ERROR_EXAMPLES: dict[int, tuple[str, list[tuple[str, str, str, Any]]]] = {
    400: (
        "Malformed JSON, a body that is not an object, or JSON too deep, too large in item "
        "count, or holding unstorable strings or numbers.",
        [
            ("Malformed JSON", "malformed_json", "The request body is not valid JSON", None),
            ("Not an object", "invalid_body", "The request body must be a JSON object", None),
            (
                "Too deep",
                "nesting_too_deep",
                "JSON nested deeper than 32 levels",
                {"max_depth": 32},
            ),
        ],
    ),
    401: (
        "No token, an unknown, revoked or expired token, or a bad request signature.",
        [
            (
                "No token",
                "not_authenticated",
                "Authentication credentials were not provided.",
                None,
            ),
            ("Bad token", "invalid_token", "Invalid or revoked API token", None),
            ("Replayed", "signature_replayed", "This signed request was already received", None),
        ],
    ),
    403: (
        "The client may not use this mapping set.",
        [("Forbidden", "forbidden", "This API client may not use mapping set 'x'", None)],
    ),
    404: (
        "Unknown or inactive mapping set, or no endpoint at this URL.",
        [("Unknown", "unknown_mapping_set", "No mapping set with slug 'x'", None)],
    ),
    405: (
        "Method not allowed.",
        [("Method", "method_not_allowed", 'Method "GET" not allowed.', None)],
    ),
    406: (
        "The Accept header excludes application/json.",
        [("Accept", "not_acceptable", "Could not satisfy the request Accept header.", None)],
    ),
    409: (
        "An Idempotency-Key reused with a different body.",
        [
            (
                "Conflict",
                "idempotency_conflict",
                "This Idempotency-Key was used for another body",
                None,
            )
        ],
    ),
    413: (
        "The body is over API_MAX_BODY_BYTES (checked before it is read).",
        [
            (
                "Too large",
                "payload_too_large",
                "The request body is larger than the limit of 1048576 bytes",
                {"limit_bytes": 1048576},
            )
        ],
    ),
    415: (
        "Content-Type is not application/json.",
        [
            (
                "Media type",
                "unsupported_media_type",
                'Unsupported media type "text/plain" in request.',
                None,
            )
        ],
    ),
    429: (
        "The client is over its rate limit; retry after the Retry-After header's seconds.",
        [
            (
                "Throttled",
                "rate_limited",
                "Request was throttled. Expected available in 12 seconds.",
                {"retry_after_seconds": 12},
            )
        ],
    ),
    503: (
        "The database is unreachable; nothing was accepted. Retry after Retry-After seconds.",
        [
            (
                "Unavailable",
                "service_unavailable",
                "The service is temporarily unavailable; retry later",
                None,
            )
        ],
    ),
}

# Response headers documented per status (added by postprocess_schema).
RESPONSE_HEADERS = {
    "429": {"Retry-After": "Seconds to wait before the next request"},
    "503": {"Retry-After": "Seconds to wait before retrying"},
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error answers for ``statuses``, in the one error shape, with examples."""
    responses = {}
    for status in statuses:
        description, examples = _ERROR_EXAMPLES[status]
        responses[status] = OpenApiResponse(
            response=ErrorResponseSerializer,
            description=description,
            examples=[
                OpenApiExample(name, value=_error(code, message, details), status_codes=[status])
                for name, code, message, details in examples
            ],
        )
    return responses


def postprocess_schema(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Add the description above and the Retry-After headers that 429 and 503 answers carry."""
    result["info"]["description"] = DESCRIPTION.strip()
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/"):
            continue
        for operation in operations.values():
            for status, headers in RESPONSE_HEADERS.items():
                response = operation.get("responses", {}).get(status)
                if response is None:
                    continue
                response["headers"] = {
                    name: {"schema": {"type": "integer"}, "description": text, "required": True}
                    for name, text in headers.items()
                }
    return result
