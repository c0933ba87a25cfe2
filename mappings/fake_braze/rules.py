"""Braze's documented rules for a ``POST /users/track`` body, as pure functions.

Everything here follows shared/BRAZE_API.md. No I/O: the server calls :func:`parse_body`,
:func:`limit_error` and :func:`validate_body`, then :func:`answer_for` shapes the reply.
Each rejected object gets one error (its first problem), as Braze reports one per object.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

ARRAYS = ("attributes", "events", "purchases")
MAX_OBJECTS = 75
LIMIT_MODES = ("total", "per_array")
MAX_EXTERNAL_ID_BYTES = 987
MAX_STRING = 255
MAX_NESTED_BYTES = 100 * 1024
MAX_FLAT_PROPERTIES_BYTES = 50 * 1024

PARSE_ERROR = "Error while parsing request body. Please check your syntax."
TOO_MANY_OBJECTS = "Max Input Length Exceeded"
NO_VALID_DATA = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."
IDENTIFIER_REQUIRED = "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
TWO_PRIMARIES = "Only one of 'external_id', 'braze_id' or 'user_alias' may be provided"
# Braze's text for an external_id it refuses (for example a "dummy user" id).
BLOCKED_EXTERNAL_ID = "provided external_id is blacklisted and disallowed"

PRIMARY_IDENTIFIERS = ("external_id", "user_alias", "braze_id")


def _codes(text: str) -> frozenset[str]:
    """A set of codes written as whitespace-separated words."""
    return frozenset(text.split())


COUNTRY_CODES = _codes(
    """
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
)

LANGUAGE_CODES = _codes(
    """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da
de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz
ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln
lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi
pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti
tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
"""
)

CURRENCY_CODES = _codes(
    """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP
BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB
EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY
KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB
RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD
TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG
XDR XOF XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG ZWL
"""
)

GENDERS = frozenset({"M", "F", "O", "N", "P"})
SUBSCRIBE_STATES = frozenset({"opted_in", "subscribed", "unsubscribed"})
GROUP_STATES = frozenset({"subscribed", "unsubscribed"})
RESERVED_PROPERTY_KEYS = frozenset({"time", "event_name"})
# An empty set means the system has no tz database; then any IANA-shaped name passes.
TIME_ZONES = frozenset(zoneinfo.available_timezones())

EMAIL_RE = re.compile(
    r"^[^@\s\"<>,;]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
DOB_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
IANA_RE = re.compile(r"^[A-Za-z]+(?:/[A-Za-z0-9_+\-]+)*$")
NESTED_KEY_FORBIDDEN = re.compile(r"[\s.$]")


class BodyError(ValueError):
    """The body cannot be used at all (a fatal 400)."""


@dataclass(frozen=True)
class TrackResult:
    """How many objects each sent array held, and one error per rejected object."""

    sent: dict[str, int]
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def processed(self) -> dict[str, int]:
        """Accepted objects per sent array (Braze's ``*_processed`` counts)."""
        counts = dict(self.sent)
        for error in self.errors:
            counts[error["input_array"]] -= 1
        return counts


# -- scalar predicates -------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_short_string(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_STRING


def is_email(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 254 and bool(EMAIL_RE.match(value))


def is_dob(value: Any) -> bool:
    if not isinstance(value, str) or not DOB_RE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_datetime(value: Any) -> bool:
    """ISO 8601 date or datetime; a zone-less value means UTC at Braze."""
    if not isinstance(value, str) or len(value) < 8:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_time_zone(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    return value in TIME_ZONES if TIME_ZONES else bool(IANA_RE.match(value))


def is_location(value: Any) -> bool:
    if not isinstance(value, dict) or set(value) != {"latitude", "longitude"}:
        return False
    lat, lon = value["latitude"], value["longitude"]
    return is_number(lat) and is_number(lon) and -90 <= lat <= 90 and -180 <= lon <= 180


def is_subscription_groups(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(group, dict)
        and isinstance(group.get("subscription_group_id"), str)
        and group.get("subscription_state") in GROUP_STATES
        for group in value
    )


def one_of(choices: frozenset[str]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, str) and value in choices


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_phone(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_STRING


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


# -- standard attributes: name -> (predicate, what a valid value is) ----------------------------

StandardRule = tuple[Callable[[Any], bool], str]

STANDARD_ATTRIBUTES: dict[str, StandardRule] = {
    "first_name": (is_short_string, "string"),
    "last_name": (is_short_string, "string"),
    "home_city": (is_short_string, "string"),
    "image_url": (is_short_string, "string"),
    "email": (is_email, "email"),
    "phone": (is_phone, "phone number"),
    "dob": (is_dob, "date of birth (YYYY-MM-DD)"),
    "country": (one_of(COUNTRY_CODES), "ISO-3166-1 alpha-2 country code"),
    "language": (one_of(LANGUAGE_CODES), "ISO-639-1 language code"),
    "gender": (one_of(GENDERS), "gender (M, F, O, N, P or null)"),
    "time_zone": (is_time_zone, "IANA time zone"),
    "email_subscribe": (one_of(SUBSCRIBE_STATES), "subscription state"),
    "push_subscribe": (one_of(SUBSCRIBE_STATES), "subscription state"),
    "email_open_tracking_disabled": (is_bool, "boolean"),
    "email_click_tracking_disabled": (is_bool, "boolean"),
    "current_location": (is_location, "location (latitude -90..90, longitude -180..180)"),
    "date_of_first_session": (is_iso_datetime, "ISO 8601 datetime"),
    "date_of_last_session": (is_iso_datetime, "ISO 8601 datetime"),
    "marked_email_as_spam_at": (is_iso_datetime, "ISO 8601 datetime"),
    "subscription_groups": (is_subscription_groups, "list of subscription groups"),
    # Shapes Braze documents elsewhere; only their container type is checked here.
    "facebook": (lambda v: isinstance(v, dict), "object"),
    "twitter": (lambda v: isinstance(v, dict), "object"),
    "push_tokens": (lambda v: isinstance(v, list), "list of push tokens"),
}

OBJECT_FLAGS = ("_update_existing_only", "_merge_objects")
IDENTIFIER_KEYS = frozenset(PRIMARY_IDENTIFIERS)


def not_valid(name: str, what: str) -> str:
    return f"The value provided for the '{name}' field is not a valid {what}."


def short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


# -- identifiers (all three arrays) -------------------------------------------------------------


def identifier_error(obj: dict[str, Any]) -> str | None:
    primaries = [key for key in PRIMARY_IDENTIFIERS if obj.get(key) is not None]
    if len(primaries) > 1:
        return TWO_PRIMARIES
    if primaries:
        return primary_error(primaries[0], obj[primaries[0]])
    if obj.get("email") is not None:
        return None if is_email(obj["email"]) else not_valid("email", "email")
    if obj.get("phone") is not None:
        return None if is_phone(obj["phone"]) else not_valid("phone", "phone number")
    return IDENTIFIER_REQUIRED


def primary_error(name: str, value: Any) -> str | None:
    if name == "external_id":
        ok = isinstance(value, str) and 0 < len(value.encode()) <= MAX_EXTERNAL_ID_BYTES
        return None if ok else not_valid("external_id", "string of at most 987 bytes")
    if name == "braze_id":
        return None if isinstance(value, str) and value else not_valid("braze_id", "string")
    ok = (
        isinstance(value, dict)
        and isinstance(value.get("alias_name"), str)
        and isinstance(value.get("alias_label"), str)
    )
    return None if ok else not_valid("user_alias", "alias (alias_name and alias_label strings)")


def flags_error(obj: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    for flag in allowed:
        if flag in obj and not isinstance(obj[flag], bool):
            return f"'{flag}' must be a boolean"
    return None


# -- attributes ---------------------------------------------------------------------------------


def attributes_error(obj: dict[str, Any]) -> str | None:
    problem = identifier_error(obj) or flags_error(obj, OBJECT_FLAGS)
    if problem:
        return problem
    for name, value in obj.items():
        if name in IDENTIFIER_KEYS or name in OBJECT_FLAGS:
            continue
        problem = attribute_error(name, value)
        if problem:
            return problem
    return None


def attribute_error(name: str, value: Any) -> str | None:
    if value is None:  # null deletes the attribute at Braze: valid on purpose
        return None
    if name in STANDARD_ATTRIBUTES:
        predicate, what = STANDARD_ATTRIBUTES[name]
        return None if predicate(value) else not_valid(name, what)
    return custom_key_error(name) or custom_value_error(name, value)


def custom_key_error(name: str) -> str | None:
    if not name or len(name) > MAX_STRING or name.startswith("$"):
        return f"'{short(name)}' is not a valid custom attribute name"
    return None


def custom_value_error(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or is_number(value):
        return None
    if isinstance(value, str):
        return None if len(value) <= MAX_STRING else too_long(name)
    if isinstance(value, list):
        return array_error(name, value)
    if isinstance(value, dict):
        return operation_error(name, value)
    return not_valid(name, "custom attribute value")


def too_long(name: str) -> str:
    return f"The value provided for the '{short(name)}' field is longer than 255 characters."


def array_error(name: str, items: list[Any]) -> str | None:
    if any(isinstance(item, dict) for item in items):
        return nested_error(name, items)
    for item in items:
        if isinstance(item, list) or (isinstance(item, str) and len(item) > MAX_STRING):
            return not_valid(name, "array")
    return None


SIMPLE_ARRAY_OPS = frozenset({"add", "remove"})
OBJECT_ARRAY_OPS = frozenset({"$add", "$remove", "$update"})


def operation_error(name: str, value: dict[str, Any]) -> str | None:
    """``{"inc": n}``, ``{"add"/"remove": [...]}``, ``{"$add"/"$remove"/"$update": [...]}``,
    else a nested object."""
    keys = set(value)
    if keys == {"inc"}:
        return None if is_int(value["inc"]) else f"'inc' for '{short(name)}' must be an integer"
    if keys and (keys <= SIMPLE_ARRAY_OPS or keys <= OBJECT_ARRAY_OPS):
        lists = all(isinstance(items, list) for items in value.values())
        return None if lists else not_valid(name, "array operation")
    return nested_error(name, value)


def nested_error(name: str, value: Any) -> str | None:
    if json_size(value) > MAX_NESTED_BYTES:
        return f"The value provided for the '{short(name)}' field is larger than 100 KB."
    return None if nested_value_ok(value) else not_valid(name, "nested object")


def nested_value_ok(value: Any) -> bool:
    if isinstance(value, list):
        return all(nested_value_ok(item) for item in value)
    if isinstance(value, str):
        return len(value) <= MAX_STRING
    if not isinstance(value, dict):
        return True
    if set(value) == {"$time"}:
        return is_iso_datetime(value["$time"])
    return all(nested_key_ok(key) and nested_value_ok(item) for key, item in value.items())


def nested_key_ok(key: str) -> bool:
    return 0 < len(key) <= MAX_STRING and not NESTED_KEY_FORBIDDEN.search(key)


# -- events and purchases -----------------------------------------------------------------------


def events_error(obj: dict[str, Any]) -> str | None:
    name = obj.get("name")
    if name is None:
        return "'name' is required"
    if not isinstance(name, str) or not name:
        return "'name' is not valid"
    return occurrence_error(obj)


def purchases_error(obj: dict[str, Any]) -> str | None:
    product_id = obj.get("product_id")
    if product_id is None:
        return "'product_id' is required"
    if not isinstance(product_id, str) or not 0 < len(product_id) <= MAX_STRING:
        return "'product_id' is not valid"
    return money_error(obj) or occurrence_error(obj)


def money_error(obj: dict[str, Any]) -> str | None:
    if not one_of(CURRENCY_CODES)(obj.get("currency")):
        return "'currency' is not valid"
    if not is_number(obj.get("price")):
        return "'price' is not valid"
    quantity = obj.get("quantity", 1)
    if not is_int(quantity) or not 1 <= quantity <= 100:
        return "'quantity' is not valid"
    return None


def occurrence_error(obj: dict[str, Any]) -> str | None:
    """Fields events and purchases share: identifier, time, properties, app_id, flag."""
    problem = identifier_error(obj) or flags_error(obj, ("_update_existing_only",))
    if problem:
        return problem
    if "time" not in obj:
        return "'time' is required"
    if not is_iso_datetime(obj["time"]):
        return "'time' is not valid"
    if "app_id" in obj and not isinstance(obj["app_id"], str):
        return "'app_id' is not valid"
    return properties_error(obj.get("properties", {}))


def properties_error(properties: Any) -> str | None:
    if not isinstance(properties, dict):
        return "'properties' is not valid"
    for key, value in properties.items():
        if not key or len(key) > MAX_STRING or key.startswith("$") or key in RESERVED_PROPERTY_KEYS:
            return f"'{short(key)}' is not a valid property name"
        if isinstance(value, str) and len(value) > MAX_STRING:
            return f"The value of property '{short(key)}' is longer than 255 characters."
    nested = any(isinstance(value, dict | list) for value in properties.values())
    if json_size(properties) > (MAX_NESTED_BYTES if nested else MAX_FLAT_PROPERTIES_BYTES):
        return "'properties' is too large"
    return None


OBJECT_RULES: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "attributes": attributes_error,
    "events": events_error,
    "purchases": purchases_error,
}


# -- the whole body -----------------------------------------------------------------------------


def parse_body(raw: bytes) -> dict[str, Any]:
    """The JSON object in ``raw``; NaN/Infinity are not JSON, so they fail like any bad syntax."""
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise BodyError(PARSE_ERROR) from error
    if not isinstance(body, dict):
        raise BodyError(PARSE_ERROR)
    return body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def sent_arrays(body: dict[str, Any]) -> dict[str, list[Any]]:
    """The arrays present in the body; a present non-list is a fatal error."""
    arrays = {kind: body[kind] for kind in ARRAYS if kind in body}
    if not arrays or not all(isinstance(items, list) for items in arrays.values()):
        raise BodyError(NO_VALID_DATA)
    return arrays


def limit_error(body: dict[str, Any], max_objects: int, limit_mode: str = "total") -> str | None:
    """Braze's per-request object limit: in total (newer contracts) or per array (older)."""
    sizes = [len(items) for items in sent_arrays(body).values()]
    too_many = sum(sizes) > max_objects if limit_mode == "total" else max(sizes) > max_objects
    return TOO_MANY_OBJECTS if too_many else None


def object_error(kind: str, obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return f"Each item in '{kind}' must be an object"
    return OBJECT_RULES[kind](obj)


def validate_body(body: dict[str, Any]) -> TrackResult:
    arrays = sent_arrays(body)
    errors = [
        error_entry(problem, kind, index)
        for kind, items in arrays.items()
        for index, obj in enumerate(items)
        if (problem := object_error(kind, obj))
    ]
    return TrackResult({kind: len(items) for kind, items in arrays.items()}, errors)


def error_entry(problem: str, kind: str, index: int) -> dict[str, Any]:
    return {"type": problem, "input_array": kind, "index": index}


def reject(
    result: TrackResult, indexes: dict[str, list[int]], problem: str = BLOCKED_EXTERNAL_ID
) -> TrackResult:
    """Also reject the objects at ``indexes`` (sent, not yet rejected), as a scripted fault."""
    errors = list(result.errors)
    already = {(error["input_array"], error["index"]) for error in errors}
    for kind, wanted in indexes.items():
        for index in sorted(set(wanted)):
            if 0 <= index < result.sent.get(kind, 0) and (kind, index) not in already:
                errors.append(error_entry(problem, kind, index))
    errors.sort(key=lambda error: (ARRAYS.index(error["input_array"]), error["index"]))
    return TrackResult(result.sent, errors)


def answer_for(result: TrackResult) -> tuple[int, dict[str, Any]]:
    """201 with counts (and errors, if any), or 400 when nothing at all was valid."""
    processed = result.processed
    if not any(processed.values()):
        return 400, {"message": NO_VALID_DATA, "errors": result.errors}
    answer: dict[str, Any] = {"message": "success"}
    answer.update({f"{kind}_processed": n for kind, n in processed.items()})
    if result.errors:
        answer["errors"] = result.errors
    return 201, answer
