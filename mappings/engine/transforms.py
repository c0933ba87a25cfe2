"""Per-row transforms: small steps composed in order, configured as JSON.

A row's ``transforms`` is a list; each item is a name (``"trim"``) or an object with a ``name``
and options (``{"name": "phone", "region": "BR"}``). :func:`check` lists what is wrong with a
configuration (the admin form, ``import_config`` and the engine all use it); :func:`build` turns a
checked configuration into a step. A step takes a value and returns the new value, ``EMPTY``
(nothing to send), or raises :class:`TransformError` saying why the value is unusable.

Two kinds of step know more than the value. ``coerce`` casts by the type the row's target
expects: the engine passes that type to :func:`build` (``targets.value_type``), so one transform
serves every target. ``phone`` with ``region_from`` reads another path of the same conversation
(the user's country): such a step is marked ``reads_document`` and is called with the
conversation as a second argument, so only the rows that ask for it pay for it.
"""

import json
import math
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers

from mappings.engine import codes, sources
from mappings.engine.datetimes import ORDERS, DateParseError, iso_utc, parse_date, parse_datetime


class _Empty:
    """Nothing to send: missing, null, or blank. Never sent as null (that deletes at Braze)."""

    _instance = None

    def __new__(cls):
        cls._instance = cls._instance or super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "EMPTY"

    def __bool__(self) -> bool:
        return False


EMPTY: Any = _Empty()


class TransformError(ValueError):
    """The value cannot be turned into what the row needs; the message says why."""


@dataclass(frozen=True)
class Step:
    name: str
    apply: Callable[..., Any]  # (value) -> value, or (value, conversation) when reads_document
    handles_empty: bool = False
    reads_document: bool = False


# -- the steps ----------------------------------------------------------------------------------


def _on_text(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    """Apply ``function`` to strings; leave other values as they are."""
    return lambda value: function(value) if isinstance(value, str) else value


def _require_text(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise TransformError(f"not {what}: expected text, got {type(value).__name__}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TransformError("not a whole number: got a boolean")
    number = value if isinstance(value, int | float) else _to_float(value)
    if isinstance(number, float) and not number.is_integer():
        raise TransformError("not a whole number")
    return int(number)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TransformError("not a number: got a boolean")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _require_text(value, "a number").replace(" ", "")
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")  # a decimal comma, as typed in much of the world
        try:
            number = float(text.replace(",", ""))
        except ValueError as error:
            raise TransformError("not a number") from error
    if not math.isfinite(number):
        raise TransformError("not a finite number")
    return number


_TRUE = frozenset({"true", "yes", "y", "1", "on", "sim", "si", "sí", "oui", "ja"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "não", "nao", "non", "nein"})


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _require_text(value, "a yes/no value").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise TransformError("not a yes/no value")


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TransformError(f"cannot make text of a {type(value).__name__}")


def _dates(options: dict) -> Callable[[Any], Any]:
    order = options.get("order", "DMY")
    zone = zoneinfo.ZoneInfo(options.get("timezone", "UTC"))
    kind = options["name"]

    def apply(value: Any) -> str:
        try:
            if kind == "dob":
                return parse_date(value, order).isoformat()
            moment = parse_datetime(value, order, zone)
        except DateParseError as error:
            raise TransformError(str(error)) from error
        if kind == "date":
            return moment.date().isoformat() + "T00:00:00Z"
        return iso_utc(moment)

    return apply


def _e164(value: Any, region: str | None) -> str:
    text = _require_text(value, "a phone number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise TransformError("not a phone number" + ("" if region else " (no region)")) from error
    if not phonenumbers.is_valid_number(number):
        raise TransformError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(options: dict) -> Callable[..., Any]:
    fallback = options.get("region")
    if "region_from" not in options:
        return lambda value: _e164(value, fallback)
    read_region = sources.compile_path(options["region_from"])

    def apply(value: Any, conversation: Any) -> str:
        return _e164(value, _phone_region(read_region(conversation)) or fallback)

    return apply


def _phone_region(value: Any) -> str | None:
    """The phone region named by a conversation's field (``BR``, ``br``, ``Brasil``), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    region = codes.country(value)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _code(lookup: Callable[[str], str | None], what: str) -> Callable[[dict], Callable]:
    def factory(options: dict) -> Callable[[Any], Any]:
        def apply(value: Any) -> str:
            code = lookup(_require_text(value, what))
            if code is None:
                raise TransformError(f"not a known {what}")
            return code

        return apply

    return factory


def _lookup(options: dict) -> Callable[[Any], Any]:
    ignore_case = options.get("ignore_case", True)
    fold = str.casefold if ignore_case else str
    table = {fold(str(key)): item for key, item in options["table"].items()}
    otherwise = options.get("otherwise", "error")

    def apply(value: Any) -> Any:
        key = fold(value.strip() if isinstance(value, str) else _to_string(value))
        if key in table:
            return table[key]
        if otherwise == "keep":
            return value
        if otherwise == "skip":
            return EMPTY
        raise TransformError("not in the lookup table")

    return apply


def _default(options: dict) -> Callable[[Any], Any]:
    fallback = options["value"]
    return lambda value: fallback if value is EMPTY else value


def _skip_empty(options: dict) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if value is EMPTY or value in ([], {}):
            return EMPTY
        return EMPTY if isinstance(value, str) and not value.strip() else value

    return apply


def _split(options: dict) -> Callable[[Any], Any]:
    separator = options.get("separator", ",")

    def apply(value: Any) -> Any:
        if isinstance(value, list):
            return value
        parts = [part.strip() for part in _require_text(value, "a list").split(separator)]
        return [part for part in parts if part]

    return apply


# -- coercion by the target's type --------------------------------------------------------------

COERCE_TYPES = ("auto", "text", "number", "integer", "boolean", "date", "datetime")
# What platforms that send every value as text (Voiceflow) send for "not set": never a value.
UNSET_WORDS = frozenset({"", "null", "undefined"})
_PLAIN_NUMBER = re.compile(r"^-?(?:0|[1-9]\d{0,14})(?:\.\d+)?$")  # no leading zeros: "007" is text


def _coerce(options: dict) -> Callable[[Any], Any]:
    kind = options.get("type", "auto")
    cast = _CASTS[kind](options) if kind in ("date", "datetime") else _CASTS[kind]
    unset = UNSET_WORDS | {word.strip().lower() for word in options.get("empty_words", ())}

    def apply(value: Any) -> Any:
        if isinstance(value, list):
            items = (apply(item) for item in value)
            return [item for item in items if item is not EMPTY and item is not None]
        if value is None or (isinstance(value, str) and value.strip().lower() in unset):
            return EMPTY
        return cast(value)

    return apply


def _auto(value: Any) -> Any:
    """Text that is plainly a boolean or a number becomes one; anything else stays as it is."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return _number(text) if _PLAIN_NUMBER.match(text) else value


def _number(value: Any) -> int | float:
    number = _to_float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 3.0 from a platform that sends every number as a float
    return _to_string(value)


def _coerce_dates(options: dict) -> Callable[[Any], Any]:
    kind = "dob" if options["type"] == "date" else "datetime"
    return _dates({**options, "name": kind})


_CASTS: dict[str, Any] = {
    "auto": _auto, "text": _text, "number": _number, "integer": _to_int, "boolean": _to_bool,
    "date": _coerce_dates, "datetime": _coerce_dates,
}  # fmt: skip


def _without_options(function: Callable[[Any], Any]) -> Callable[[dict], Callable[[Any], Any]]:
    return lambda options: function


# -- option checks ------------------------------------------------------------------------------


def _is_timezone(value: Any) -> str | None:
    if not isinstance(value, str) or value not in zoneinfo.available_timezones():
        return "must be an IANA time zone name, like Europe/Lisbon"
    return None


def _is_order(value: Any) -> str | None:
    return None if value in ORDERS else f"must be one of {', '.join(ORDERS)}"


def _is_region(value: Any) -> str | None:
    regions = phonenumbers.SUPPORTED_REGIONS
    return None if value in regions else "must be a two-letter region code, like US or BR"


def _is_table(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return "must be a non-empty object of input -> output"
    return None


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _is_text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be non-empty text"


def _is_otherwise(value: Any) -> str | None:
    return None if value in ("error", "keep", "skip") else "must be error, keep or skip"


def _is_path(value: Any) -> str | None:
    try:
        sources.compile_path(value)
    except sources.SourceError as error:
        return f"must be a path of the conversation, like bridge.parameters.country ({error})"
    return None


def _is_word_list(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        return None
    return 'must be a list of texts, like ["0", "n/a"]'


def _is_coerce_type(value: Any) -> str | None:
    return None if value in COERCE_TYPES else f"must be one of {', '.join(COERCE_TYPES)}"


def _is_json(value: Any) -> str | None:
    return "must not be null (null deletes at Braze)" if value is None else None


@dataclass(frozen=True)
class Kind:
    factory: Callable[[dict], Callable[[Any], Any]]
    help: str
    options: dict[str, Callable[[Any], str | None]]
    required: tuple[str, ...] = ()
    handles_empty: bool = False
    document_option: str = ""  # an option naming a path: with it, the step reads the conversation
    typed: bool = False  # the target's type is the default of its "type" option


_DATE_OPTIONS = {"order": _is_order, "timezone": _is_timezone}

KINDS: dict[str, Kind] = {
    "trim": Kind(_without_options(_on_text(str.strip)), "remove surrounding spaces", {}),
    "lower": Kind(_without_options(_on_text(str.lower)), "lower case", {}),
    "upper": Kind(_without_options(_on_text(str.upper)), "upper case", {}),
    "string": Kind(_without_options(_to_string), "cast to text", {}),
    "int": Kind(_without_options(_to_int), "cast to a whole number", {}),
    "float": Kind(_without_options(_to_float), "cast to a number (accepts a decimal comma)", {}),
    "bool": Kind(_without_options(_to_bool), "cast yes/no, true/false, 1/0 to a boolean", {}),
    "date": Kind(_dates, "a date -> ISO 8601 midnight UTC", _DATE_OPTIONS),
    "datetime": Kind(_dates, "a date and time -> ISO 8601 in UTC", _DATE_OPTIONS),
    "dob": Kind(_dates, "a birth date -> YYYY-MM-DD", {"order": _is_order}),
    "phone": Kind(
        _phone,
        "a phone number -> E.164",
        {"region": _is_region, "region_from": _is_path},
        document_option="region_from",
    ),
    "gender": Kind(_code(codes.gender, "gender"), "-> Braze gender code M/F/O/N/P", {}),
    "country": Kind(_code(codes.country, "country"), "-> ISO-3166-1 alpha-2", {}),
    "language": Kind(_code(codes.language, "language"), "-> ISO-639-1", {}),
    "lookup": Kind(
        _lookup,
        "replace values through a table",
        {"table": _is_table, "ignore_case": _is_bool, "otherwise": _is_otherwise},
        required=("table",),
    ),
    "default": Kind(
        _default, "use this value when empty", {"value": _is_json}, ("value",), handles_empty=True
    ),
    "skip_empty": Kind(_skip_empty, "treat blank text, [] and {} as empty", {}, handles_empty=True),
    "split": Kind(_split, "split text into a list", {"separator": _is_text}),
    "coerce": Kind(
        _coerce,
        "cast text to the target's type; null, undefined and blank are empty",
        {"type": _is_coerce_type, "empty_words": _is_word_list, **_DATE_OPTIONS},
        typed=True,
    ),
}


def normalise(config: Any) -> dict[str, Any]:
    """``"trim"`` -> ``{"name": "trim"}``; objects are copied as they are."""
    if isinstance(config, str):
        return {"name": config}
    if isinstance(config, dict):
        return dict(config)
    return {"name": None}


def label(config: Any) -> str:
    """A transform as a person reads it: ``phone (region_from: answers.country, region: BR)``."""
    step = normalise(config)
    name = step.pop("name", None)
    if not isinstance(name, str):
        return json.dumps(config, ensure_ascii=False, default=str)
    options = ", ".join(f"{key}: {_option_text(value)}" for key, value in step.items())
    return f"{name} ({options})" if options else name


def _option_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def check(config: Any) -> list[str]:
    """Everything wrong with one transform configuration (empty when it is usable)."""
    options = normalise(config)
    name = options.get("name")
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        return [f"unknown transform {name!r}; known: {', '.join(KINDS)}"]
    problems = [f"{name}: '{key}' is required" for key in kind.required if key not in options]
    for key, value in options.items():
        if key == "name":
            continue
        validator = kind.options.get(key)
        if validator is None:
            problems.append(f"{name}: unknown option '{key}'")
        elif (problem := validator(value)) is not None:
            problems.append(f"{name}: '{key}' {problem}")
    return problems


def build(config: Any, target_type: str = "auto") -> Step:
    """A runnable step from a configuration that :func:`check` accepted.

    ``target_type`` (one of ``COERCE_TYPES``) is what the row's target expects, the default of a
    typed transform's ``type`` option.
    """
    options = normalise(config)
    kind = KINDS[options["name"]]
    if kind.typed:
        options.setdefault("type", target_type)
    reads_document = bool(kind.document_option) and kind.document_option in options
    return Step(options["name"], kind.factory(options), kind.handles_empty, reads_document)
