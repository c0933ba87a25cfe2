"""API views: parse, authenticate, call one service function, shape the response.

Each view's OpenAPI documentation is declared in mappings/api/docs.py.
"""

from django.conf import settings
from django.http import HttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mappings.api import (
    config_lookups,
    docs,
    health,
    lookup_docs,
    platform_answers,
    platform_docs,
)
from mappings.api.authentication import (
    ApiClientBasicAuthentication,
    ApiClientTokenAuthentication,
)
from mappings.api.errors import ApiError
from mappings.api.middleware import arrived_at
from mappings.api.serializers import delivery_detail, ingest_response
from mappings.engine import preview
from mappings.ingest import conversations
from mappings.lookups import service as lookups
from mappings.models import Delivery, MappingSet
from mappings.models.audit import DeliveryStatus
from mappings.platforms import ADAPTERS
from mappings.platforms.base import Adapter, PlatformRequest
from mappings.platforms.lookup_answers import respond_lookup

# The X-Delivery-Mode and Idempotency-Key headers, read from request.META by their WSGI names:
# request.headers would build a dict of every header on each ingest only to read these two.
_MODE_META = "HTTP_X_DELIVERY_MODE"
_IDEMPOTENCY_KEY_META = "HTTP_IDEMPOTENCY_KEY"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


def _mapping_set_for(client, slug: str) -> MappingSet:
    mapping_set = config_lookups.mapping_set_for(client, slug)
    if mapping_set is None:
        raise ApiError(404, "unknown_mapping_set", f"No mapping set with slug '{slug}'")
    if not mapping_set.client_may_use:
        raise ApiError(403, "forbidden", f"This API client may not use mapping set '{slug}'")
    if not mapping_set.is_active:
        raise ApiError(404, "mapping_set_inactive", f"Mapping set '{slug}' is not active")
    return mapping_set


def _mode(request: Request) -> str | None:
    """``?mode=sync|async`` or the ``X-Delivery-Mode`` header; none = the mapping set's mode."""
    # Present but empty (``?mode=``) is an error too, as the schema's enum says: not the default.
    mode = request.query_params.get("mode", request.META.get(_MODE_META))
    if mode is not None and mode not in conversations.MODES:
        raise ApiError(400, "invalid_mode", f"mode must be one of {', '.join(conversations.MODES)}")
    return mode


def _idempotency_key(request: Request) -> str:
    key = request.META.get(_IDEMPOTENCY_KEY_META, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"Idempotency-Key must be at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
        )
    return key


def _ingest(
    request: Request, mapping_set: MappingSet, conversation: dict, key: str, **options
) -> tuple[conversations.IngestResult, dict, int]:
    """One ingest and the generic API's answer to it, kept for a repeat of its key."""

    def answer(result: conversations.IngestResult) -> tuple[dict, int]:
        return ingest_response(result, mapping_set.partial_success)

    try:
        result = conversations.ingest(
            mapping_set,
            request.user,
            conversation,
            mode=_mode(request),
            idempotency_key=key,
            arrived_at=arrived_at(request),
            answer_for=answer,
            **options,
        )
    except conversations.IdempotencyConflict as error:
        raise ApiError(409, "idempotency_conflict", str(error)) from error
    body, status = answer(result)
    stored = key and result.delivery.status != DeliveryStatus.REJECTED
    if stored and result.stored_answer is None and not result.answer_kept:
        conversations.remember_answer(result.delivery, body, status)
    return result, body, status


class IngestView(APIView):
    """POST a conversation's JSON; it is mapped, stored in the outbox and sent to Braze."""

    @docs.INGEST
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        conversation = _conversation(request)
        result, body, status = _ingest(
            request, mapping_set, conversation, _idempotency_key(request)
        )
        headers = {"Idempotent-Replayed": "true"} if result.stored_answer else None
        return Response(body, status=status, headers=headers)


# Query parameters a webhook URL might carry a token in: refused, never read (URLs are logged).
_TOKEN_QUERY_NAMES = ("token", "access_token", "api_key", "apikey", "key")


class _JsonAnswers(BaseContentNegotiation):
    """Platforms send whatever Accept header their HTTP client sends (``*/*``, ``text/plain``,
    axios's list); each platform's dialect is JSON whatever they ask, so there is no 406."""

    def select_parser(self, request, parsers):
        return None  # the body is read as bytes (platform_answers.read)

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PlatformIngestView(APIView):
    """POST a bot platform's own webhook request; answers in that platform's dialect.

    The same ingest as ``IngestView`` (auth, limits, idempotency, outbox, log), read and answered
    by the platform's adapter (mappings/platforms/), within the adapter's budget, idempotent on
    the platform's turn id when no Idempotency-Key is sent. Every refusal (a bad token, a rate
    limit, an unknown mapping set) is in the platform's dialect too.
    """

    authentication_classes = [ApiClientTokenAuthentication, ApiClientBasicAuthentication]
    content_negotiation_class = _JsonAnswers
    parser_classes: list = []
    adapter: Adapter | None = None
    platform_request: PlatformRequest | None = None
    unreadable: ApiError | None = None

    def initial(self, request: Request, *args, **kwargs) -> None:
        self.adapter = ADAPTERS.get(kwargs["platform"])
        if self.adapter is None:
            known = ", ".join(sorted(ADAPTERS))
            raise ApiError(404, "unknown_platform", f"No platform '{kwargs['platform']}': {known}")
        if any(name in request.query_params for name in _TOKEN_QUERY_NAMES):
            raise ApiError(
                400,
                "token_in_url",
                "Send the API token in the Authorization header (Bearer, or HTTP Basic with the "
                "token as the password), never in the URL's query string, which is logged",
            )
        # Read before authenticating, so that a refusal (a bad token, a rate limit) is answered
        # with what the platform needs echoed (Rasa's action, Lex's intent and session); an
        # unreadable request is refused only once authenticated, so it tells a stranger nothing.
        self.platform_request, self.unreadable = platform_answers.read(self.adapter, request)
        super().initial(request, *args, **kwargs)

    @platform_docs.PLATFORM_INGEST
    def post(self, request: Request, platform: str, slug: str) -> HttpResponse:
        mapping_set = _mapping_set_for(request.user, slug)
        if self.unreadable is not None:
            raise self.unreadable
        key = _idempotency_key(request) or self._turn_key()
        _, body, status = _ingest(
            request, mapping_set, self.platform_request.conversation, key,
            platform=platform, budget_ceiling=self.adapter.default_budget_seconds,
        )  # fmt: skip
        answer = self.adapter.respond(platform_answers.outcome(body, status), self.platform_request)
        return platform_answers.http_response(answer)

    def _turn_key(self) -> str:
        turn_id = self.platform_request.turn_id
        return conversations.turn_key(self.adapter.platform_id, turn_id) if turn_id else ""

    def handle_exception(self, exc: Exception) -> HttpResponse:
        response = super().handle_exception(exc)
        if self.adapter is None:
            return response  # not a platform we know: the API's own error shape
        error = response.data.get("error", {}) if isinstance(response.data, dict) else {}
        answer = self.adapter.refuse(
            response.status_code,
            error.get("code", "error"),
            error.get("message", "The request could not be handled"),
            self.platform_request,
        )
        return platform_answers.http_response(answer, headers_from=response)


def _lookup(request: Request, mapping_set: MappingSet, conversation: dict, **options):
    try:
        return lookups.lookup(
            mapping_set, conversation, api_client=request.user, arrived_at=arrived_at(request),
            **options,
        )  # fmt: skip
    except lookups.LookupNotConfigured as error:
        raise ApiError(409, "lookup_not_configured", str(error)) from error


class LookupView(APIView):
    """POST a conversation; answers the mapped Braze profile fields of its user."""

    @lookup_docs.LOOKUP
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        budget = settings.LOOKUP_BUDGET_SECONDS
        answer = _lookup(request, mapping_set, _conversation(request), budget_seconds=budget)
        return Response(answer.as_dict())


class PlatformLookupView(PlatformIngestView):
    """A platform's lookup call: read, authenticated, limited and refused as its writes are,
    answered with the fields as the platform's own parameters."""

    @lookup_docs.PLATFORM_LOOKUP
    def post(self, request: Request, platform: str, slug: str) -> HttpResponse:
        mapping_set = _mapping_set_for(request.user, slug)
        if self.unreadable is not None:
            raise self.unreadable
        answer = _lookup(
            request, mapping_set, self.platform_request.conversation, platform=platform,
            budget_seconds=self.adapter.default_budget_seconds,
        )  # fmt: skip
        reply = respond_lookup(platform, answer, self.platform_request)
        return platform_answers.http_response(reply)


class DeliveryView(APIView):
    """GET one delivery's state and attempts; only the API client that sent it may see it."""

    @docs.DELIVERY
    def get(self, request: Request, delivery_id) -> Response:
        found = (
            Delivery.objects.select_related("mapping_set")
            .filter(pk=delivery_id, api_client=request.user)
            .first()
        )
        if found is None:
            raise ApiError(404, "unknown_delivery", f"No delivery {delivery_id} for this client")
        return Response(delivery_detail(found))


class ProbeView(APIView):
    """Public, unthrottled endpoints for load balancers."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class LivenessView(ProbeView):
    @docs.LIVENESS
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadinessView(ProbeView):
    @docs.READINESS
    def get(self, request: Request) -> Response:
        result = health.readiness()
        return Response(result.as_dict(), status=200 if result.ready else 503)


class PreviewView(APIView):
    """POST a conversation; answers the exact Braze body and problems. Sends and stores nothing."""

    @docs.PREVIEW
    def post(self, request: Request, slug: str) -> Response:
        mapping_set = _mapping_set_for(request.user, slug)
        result = preview.preview(mapping_set, _conversation(request))
        return Response(result.as_dict())


def _conversation(request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise ApiError(400, "invalid_body", "The request body must be a JSON object")
    return request.data
