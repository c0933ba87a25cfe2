"""Helpers the platform adapters share: reading bodies, the bridge block, words, size limits.

Pure functions over plain data: no clock, no I/O, so the same bytes always give the same
conversation (the ingest's idempotency compares a repeat's conversation with the first one's).
``ApiErrorRefusal`` is the ``refuse`` of the adapters whose platform has no error dialect.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from mappings.platforms.base import (
    Outcome,
    PlatformRequest,
    PlatformRequestError,
    PlatformResponse,
    RawRequest,
)

OWN_PREFIX = "braze_"  # the values we write back to a platform; never read back as facts
_MAX_TURN_ID = 200  # the ingest's Idempotency-Key allows 255 characters
_MAX_PROBLEM_CHARS = 300
_MAX_MESSAGE_CHARS = 1000
_TRUTHY = ("1", "true", "yes", "on")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, its name matched without case (plain dicts are not case-blind)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip() or None
    return None


def media_type(content_type: str) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def json_object(body: bytes, platform: str) -> dict[str, Any]:
    """The body as a JSON object, or a PlatformRequestError saying what is wrong with it."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise PlatformRequestError(f"The {platform} request body is not UTF-8 text") from error
    except ValueError as error:
        message = f"The {platform} request body is not valid JSON: {error}"
        raise PlatformRequestError(message) from error
    if not isinstance(value, dict):
        raise PlatformRequestError(f"The {platform} request body must be a JSON object")
    return value


def form_object(body: bytes, platform: str) -> dict[str, Any]:
    """An application/x-www-form-urlencoded body; a repeated field becomes a list."""
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError) as error:
        raise PlatformRequestError(f"The {platform} form body is not UTF-8 form data") from error
    return {key: values[0] if len(values) == 1 else values for key, values in fields.items()}


def body_object(body: bytes, content_type: str, platform: str) -> dict[str, Any]:
    """JSON or form-encoded, by the Content-Type; anything else is refused with its name."""
    kind = media_type(content_type)
    if kind == "application/x-www-form-urlencoded":
        return form_object(body, platform)
    if kind in ("application/json", "") or kind.endswith("+json"):
        return json_object(body, platform)
    raise PlatformRequestError(
        f"The {platform} request must be application/json or "
        f"application/x-www-form-urlencoded, not {kind}"
    )


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def missing_field(
    platform: str, path: str, kind: str = "request", how: str = "missing"
) -> PlatformRequestError:
    """``This is not a <platform> <kind>: `<path>` is missing``: a field that makes it one."""
    return PlatformRequestError(f"This is not a {platform} {kind}: `{path}` is {how}")


def required_text(request: Mapping[str, Any], platform: str, *keys: str) -> str:
    value = dig(request, *keys)
    if not isinstance(value, str) or not value.strip():
        raise missing_field(platform, ".".join(keys), how="missing or empty")
    return value


def required_object(
    request: Mapping[str, Any], platform: str, *keys: str, kind: str = "request"
) -> Mapping[str, Any]:
    """``optional_object``, but missing or empty is not this platform's ``kind`` of request."""
    value = optional_object(request, platform, *keys)
    if not value:
        raise missing_field(platform, ".".join(keys), kind)
    return value


def optional_object(request: Mapping[str, Any], platform: str, *keys: str) -> Mapping[str, Any]:
    value = dig(request, *keys)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PlatformRequestError(f"In a {platform} request `{'.'.join(keys)}` must be an object")
    return value


def text_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value).strip() or None


def last_segment(path: str | None) -> str | None:
    """``projects/p/.../sessions/abc`` -> ``abc``: the id inside a resource name."""
    return path.rstrip("/").rsplit("/", 1)[-1] or None if path else None


def language_tag(code: Any) -> str | None:
    """A BCP 47 tag: Lex's ``en_US`` becomes ``en-US``; others pass as they are."""
    text = text_or_none(code)
    return text.replace("_", "-") if text else None


def clean_parameters(
    values: Mapping[str, Any],
    convert: Callable[[Any], Any] = lambda value: value,
    absent_words: Iterable[str] = (),
) -> dict[str, Any]:
    """Parameters for the bridge block: our own write-backs, nulls and blanks left out."""
    absent = set(absent_words)
    cleaned = {}
    for key, value in values.items():
        if key.startswith(OWN_PREFIX) or is_absent(value, absent):
            continue
        converted = convert(value)
        if not is_absent(converted, absent):
            cleaned[key] = converted
    return cleaned


def is_absent(value: Any, absent_words: set[str] | frozenset[str] = frozenset()) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and (value.strip() == "" or value.strip() in absent_words)


def bridge(
    platform: str,
    session: str | None,
    turn_id: str | None,
    parameters: Mapping[str, Any],
    text: Any = None,
    language: Any = None,
) -> dict[str, Any]:
    """The normalised block every platform's conversation carries under ``bridge``."""
    return {
        "platform": platform,
        "session": session,
        "turn_id": turn_id,
        "parameters": dict(parameters),
        "text": text_or_none(text),
        "language": language_tag(language),
    }


def turn_key(*parts: Any) -> str | None:
    """The parts joined with ``:``; None if the unique part (the first) is missing.

    Long ids are hashed so they stay within the Idempotency-Key's length.
    """
    if not parts or text_or_none(parts[0]) is None:
        return None
    key = ":".join(str(part) for part in parts if text_or_none(part) is not None)
    if len(key) <= _MAX_TURN_ID:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def read_options(raw: RawRequest) -> dict[str, str]:
    """Parse-time options: ``?messages=1`` and ``?success_format=string`` (or their headers)."""
    options = {}
    messages = raw.query.get("messages") or header(raw.headers, "X-Bridge-Messages")
    if messages and messages.strip().lower() in _TRUTHY:
        options["messages"] = "1"
    success_format = raw.query.get("success_format") or header(
        raw.headers, "X-Bridge-Success-Format"
    )
    if success_format and success_format.strip().lower() == "string":
        options["success_format"] = "string"
    return options


def outcome_words(outcome: Outcome) -> str:
    """One short sentence for a person: what happened to the facts the bot collected."""
    reason = outcome.message or outcome.braze_message or ""
    words = {
        "delivered": "Saved to Braze.",
        "queued": "Stored; Braze did not answer in time, so it will be sent shortly.",
        "accepted": "Stored; it will be sent to Braze shortly.",
        "failed": f"Braze refused the record: {reason or 'no reason given'}",
        "rejected": f"Not saved: {reason or 'the conversation could not be mapped'}",
    }[outcome.status]
    return clip(words, _MAX_MESSAGE_CHARS)


def problem_lines(outcome: Outcome) -> list[str]:
    """Each problem as ``row (source): reason``, then each object Braze refused; never a value,
    which may be personal data."""
    lines = []
    for problem in outcome.problems:
        where = problem.get("source_path") or problem.get("target") or ""
        label = f"{problem.get('row')} ({where})" if problem.get("row") else where
        lines.append(clip(f"{label}: {problem.get('reason', '')}", _MAX_PROBLEM_CHARS))
    for error in outcome.braze_errors:  # Braze's per-object refusals, by position, no values
        where = f"{error.get('input_array', 'object')}[{error.get('index', '?')}]"
        lines.append(clip(f"Braze refused {where}: {error.get('type', '')}", _MAX_PROBLEM_CHARS))
    return lines


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size(body: Mapping[str, Any]) -> int:
    return len(PlatformResponse(200, body).content())


def fit(
    build: Callable[[list[str], str], dict[str, Any]], lines: list[str], text: str, limit: int
) -> dict[str, Any]:
    """The fullest body ``build(lines, text)`` whose JSON is at most ``limit`` bytes.

    Drops lines from the end (halving), then shortens the text, then gives both up.
    """
    body = build(lines, text)
    while size(body) > limit and lines:
        lines = lines[: len(lines) // 2]
        body = build(lines, text)
    while size(body) > limit and text:
        over = size(body) - limit
        text = clip(text, max(0, len(text) - over - 1)) if len(text) - over > 1 else ""
        body = build(lines, text)
    return body if size(body) <= limit else build([], "")


def platform_request(
    raw: RawRequest,
    document: Mapping[str, Any],
    block: Mapping[str, Any],
    reply_context: Mapping[str, Any] | None = None,
) -> PlatformRequest:
    """The request read: the platform's document plus its ``bridge`` block (whose turn and
    session it carries) and the options the raw request asks for."""
    return PlatformRequest(
        {**document, "bridge": block},
        block["turn_id"],
        block["session"],
        read_options(raw),
        reply_context or {},
    )


class ApiErrorRefusal:
    """``refuse`` for platforms with no error dialect of their own: the ingest API's error shape."""

    def refuse(
        self, status: int, code: str, message: str, request: PlatformRequest | None = None
    ) -> PlatformResponse:
        body = {"success": False, "error": {"code": code, "message": message}}
        return PlatformResponse(status, body)
