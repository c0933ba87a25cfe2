"""What Voiceflow, Botpress, Pypestream and Twilio Studio share: the bot builder writes the body.

These platforms have no fixed webhook format: an API step, an Execute Code card, an action node
or a Make HTTP Request widget sends the fields its author lists. We document the few names we
read (docs/platforms.md): the turn id (the ``X-Turn-Id`` header or a ``turn_id`` field), the
session, the user's text and language; every other field, or the fields of the platform's
variables object, is a parameter. The answer is flat JSON (no nesting, so "capture response"
and Studio's parsed variables reach every field) with a ``success`` flag, and a non-2xx status
on failure so the platform's own failure path fires: 422 for a rejected conversation, 502 when
Braze refused the record.

A platform's module holds its ``Dialect`` and ``ADAPTER = FlatAdapter(DIALECT, budget)``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mappings.platforms import common
from mappings.platforms.base import Outcome, PlatformRequest, PlatformResponse, RawRequest

TURN_HEADER = "X-Turn-Id"
TURN_FIELD = "turn_id"
_FAILURE_STATUS = {"rejected": 422, "failed": 502}


@dataclass(frozen=True)
class Dialect:
    """One flat platform's field names and habits."""

    platform_id: str
    name: str  # for error messages: "Voiceflow"
    session_fields: tuple[str, ...]  # dotted paths, first present wins
    text_fields: tuple[str, ...] = ("text",)
    language_fields: tuple[str, ...] = ("language",)
    # Objects whose fields are the parameters (later ones win); without any, the top level is.
    parameter_objects: tuple[str, ...] = ("variables",)
    absent_words: tuple[str, ...] = ()  # strings that mean "not set" on this platform
    accepts_form: bool = False
    string_success: bool = False  # honours ?success_format=string ("true" / "error")
    max_response_bytes: int = 64_000


class FlatAdapter:
    """A flat platform's adapter: its dialect, and a budget under the platform's own deadline."""

    def __init__(self, dialect: Dialect, default_budget_seconds: float) -> None:
        self.dialect = dialect
        self.platform_id = dialect.platform_id
        self.default_budget_seconds = default_budget_seconds

    def parse(self, raw: RawRequest) -> PlatformRequest:
        dialect = self.dialect
        if dialect.accepts_form:
            request = common.body_object(raw.body, raw.content_type, dialect.name)
        else:
            request = common.json_object(raw.body, dialect.name)
        turn = common.header(raw.headers, TURN_HEADER)
        turn_id = common.turn_key(turn or common.text_or_none(request.get(TURN_FIELD)))
        session = common.text_or_none(_first(request, dialect.session_fields))
        source = _parameter_source(dialect, request)
        block = common.bridge(
            dialect.platform_id,
            session,
            turn_id,
            common.clean_parameters(source, absent_words=dialect.absent_words),
            _first(request, dialect.text_fields),
            _first(request, dialect.language_fields),
        )
        options = common.read_options(raw)
        if not dialect.string_success:
            options.pop("success_format", None)
        return PlatformRequest({**request, "bridge": block}, turn_id, session, options)

    def respond(self, outcome: Outcome, request: PlatformRequest) -> PlatformResponse:
        success = _success(outcome.success, request)

        def build(lines: list[str], words: str) -> dict[str, Any]:
            body = {
                "success": success,
                "status": outcome.status,
                "delivery_id": outcome.delivery_id or "",
                "braze_status": outcome.braze_status,
                "message": words,
                "problem_count": len(outcome.problems),
                "problems": "; ".join(lines),
                "missing": ", ".join(outcome.missing),
            }
            # A null would overwrite the flow's variable; a field left out leaves it alone.
            return {key: value for key, value in body.items() if value is not None}

        lines, words = common.problem_lines(outcome), common.outcome_words(outcome)
        body = common.fit(build, lines, words, self.dialect.max_response_bytes)
        return PlatformResponse(_FAILURE_STATUS.get(outcome.status, 200), body)

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse:
        success = _success(False, request) if request else False
        body = {"success": success, "status": "error", "error_code": code, "message": message}
        return PlatformResponse(status, body)


def _success(success: bool, request: PlatformRequest | None) -> bool | str:
    if request is not None and request.options.get("success_format") == "string":
        return "true" if success else "error"
    return success


def _first(request: Mapping[str, Any], paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = common.dig(request, *path.split("."))
        if common.text_or_none(value) is not None:
            return value
    return None


def _parameter_source(dialect: Dialect, request: Mapping[str, Any]) -> dict[str, Any]:
    objects = [request.get(name) for name in dialect.parameter_objects]
    objects = [found for found in objects if isinstance(found, Mapping)]
    if not objects:  # the top level, less the fields the bridge block already holds
        taken = {TURN_FIELD, *dialect.text_fields, *dialect.language_fields}
        return {key: value for key, value in request.items() if key not in taken}
    merged: dict[str, Any] = {}
    for found in objects:
        merged.update(found)
    return merged
