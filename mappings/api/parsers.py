"""A JSON parser that holds against hostile bodies: bounded size, depth, item count and values.

DRF's own ``JSONParser`` reads whatever arrives and leaves some values that later fail deep in
the stack as a 500: ``NaN``/``Infinity`` and ``1e400`` (not valid JSON for PostgreSQL), strings
holding NUL (refused by PostgreSQL ``jsonb``) or lone surrogates (not encodable as UTF-8), and
nesting deep enough to exhaust Python's recursion. Each of these is a 400 here, with its own
code, before anything is stored.
"""

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework.parsers import BaseParser

from mappings.api.errors import ApiError


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    # Called by the decoder for each number with a fraction or an exponent: 1e400 (or a long
    # enough mantissa) overflows to infinity, which PostgreSQL's jsonb cannot store.
    value = float(text)
    if not math.isfinite(value):
        raise ApiError(400, "invalid_number", "JSON numbers must be finite")
    return value


def payload_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        f"The request body is larger than the limit of {limit} bytes",
        {"limit_bytes": limit},
    )


def _read_bounded(stream, limit: int) -> bytes:
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise payload_too_large(limit)
    return raw


def decode_json(raw: bytes) -> Any:
    """Parse UTF-8 JSON, turning every way it can fail into a 400 with a stable code."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "malformed_json", "The request body is not valid UTF-8") from error
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError as error:
        raise _too_deep() from error
    except ValueError as error:
        message = f"The request body is not valid JSON: {error}"
        raise ApiError(400, "malformed_json", message) from error


def _too_deep() -> ApiError:
    limit = settings.API_MAX_JSON_DEPTH
    return ApiError(
        400, "nesting_too_deep", f"JSON nested deeper than {limit} levels", {"max_depth": limit}
    )


def _bad_string(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# In text decoded from UTF-8, a string can only hold NUL or a surrogate through a backslash-u escape
# (raw control characters are refused by json.loads, and UTF-8 cannot encode surrogates). So
# when the raw text has no such escape, no string needs checking one by one.
# Searched in the raw bytes: the escapes are ASCII, so no second decoding of the body is needed.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def may_hold_bad_strings(raw: bytes) -> bool:
    """Whether the JSON in ``raw`` could decode to a string with NUL or an unpaired surrogate (a
    false alarm, like an escaped backslash before ``u0000``, only costs the full check)."""
    return b"\\u" in raw and _RISKY_ESCAPE.search(raw) is not None


def _refuse_string() -> ApiError:
    return ApiError(
        400,
        "invalid_string",
        "JSON strings must not contain NUL characters or unpaired surrogates",
    )


def may_exceed_shape(raw: bytes) -> bool:
    """Whether the JSON in ``raw`` could be nested deeper or hold more values than allowed.

    Counts of bytes bound both: each level of nesting opens a bracket, and each value but a
    container's first follows a comma or a colon (a list's first follows its ``[``). Brackets,
    colons and commas inside strings are counted too, so the bounds only err on the safe side,
    and a typical conversation is cleared without walking it.
    """
    if raw.count(b"{") + raw.count(b"[") > settings.API_MAX_JSON_DEPTH:
        return True
    values = 1 + raw.count(b":") + raw.count(b",") + raw.count(b"[")
    return values > settings.API_MAX_JSON_ITEMS


def check_shape(document: Any, *, check_strings: bool = True) -> None:
    """Refuse documents too deep, too large in item count, or holding unstorable strings.

    Iterative (an explicit stack), so the check itself cannot exhaust recursion. With
    ``check_strings=False`` (see may_hold_bad_strings) strings are not looked into. Numbers are
    the decoder's to check (``decode_json``).
    """
    max_depth, max_items = settings.API_MAX_JSON_DEPTH, settings.API_MAX_JSON_ITEMS
    stack: list[tuple[Any, int]] = [(document, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > max_items:
            raise ApiError(
                400, "body_too_complex", f"JSON with more than {max_items} values",
                {"max_items": max_items},
            )  # fmt: skip
        if isinstance(value, dict):
            if depth > max_depth:
                raise _too_deep()
            if check_strings and any(_bad_string(key) for key in value):
                raise _refuse_string()
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            if depth > max_depth:
                raise _too_deep()
            stack.extend((item, depth + 1) for item in value)
        elif check_strings and isinstance(value, str) and _bad_string(value):
            raise _refuse_string()


class BoundedJSONParser(BaseParser):
    """``application/json`` with the limits above; reads at most API_MAX_BODY_BYTES + 1."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        return checked_json(read_body(stream))


def read_body(stream) -> bytes:
    """At most API_MAX_BODY_BYTES of a request body (DRF's ``request.stream``); more is a 413."""
    return _read_bounded(stream, settings.API_MAX_BODY_BYTES)


def checked_json(raw: bytes) -> Any:
    """The JSON in ``raw``, refused with a 400 where it is malformed or unstorable (see above)."""
    document = decode_json(raw)
    check_strings = may_hold_bad_strings(raw)
    if check_strings or may_exceed_shape(raw):
        check_shape(document, check_strings=check_strings)
    return document
