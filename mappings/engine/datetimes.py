"""Dates and datetimes typed by people, read into ISO 8601.

Accepted: ISO 8601 (``2026-11-20``, ``2026-11-20T10:15:00Z``), numeric dates with ``/ . -``
separators in a configured field order (``12/04/1990`` is 12 April with ``DMY``, 4 December
with ``MDY``), English month names (``12 April 1990``, ``Apr 12th, 1990``), an optional time
(``10:15``, ``10:15:30``, ``2:15 pm``), Unix epoch seconds or milliseconds, and a date as an
object of its parts, ``{year, month, day}`` with optional ``hours``, ``minutes``, ``seconds``,
``nanos`` (Dialogflow CX's ``@sys.date`` and ``@sys.date-time``, whose numbers are often floats
like ``1990.0``). Anything else is refused rather than guessed: a wrong birthday is worse than a
missing one.

Pure functions: no clock, no I/O.
"""

import re
from datetime import UTC, date, datetime, time, tzinfo

ORDERS = ("DMY", "MDY", "YMD")

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}

_TIME = r"(?:[ T,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?" \
    r"\s*(?P<ampm>[ap]\.?m\.?)?\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}:?\d{2})?)?"  # fmt: skip
_NUMERIC = re.compile(
    r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})" + _TIME + "$", re.I
)
_DAY_MONTH = re.compile(
    r"^(?P<day>\d{1,2})(?:st|nd|rd|th)?\.?\s+(?:of\s+)?(?P<month>[a-z]+)\.?,?\s+(?P<year>\d{4})"
    + _TIME
    + "$",
    re.I,
)
_MONTH_DAY = re.compile(
    r"^(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})" + _TIME + "$",
    re.I,
)
_EPOCH_MS_THRESHOLD = 100_000_000_000  # above this an epoch number is in milliseconds
_DATE_PARTS = frozenset({"year", "month", "day"})
_TIME_PARTS = frozenset({"hours", "minutes", "seconds", "nanos"})


class DateParseError(ValueError):
    """The text is not a date or datetime in a format we accept."""


def parse_datetime(value: object, order: str = "DMY", zone: tzinfo = UTC) -> datetime:
    """An aware datetime; a value without a zone is read in ``zone``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value)
    if isinstance(value, dict):
        parsed = _from_parts(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    if not isinstance(value, str):
        raise DateParseError("not a date: expected text, an epoch number or {year, month, day}")
    text = value.strip()
    parsed = _from_iso(text) or _from_human(text, order)
    if parsed is None:
        raise DateParseError(f"not a date in a known format (field order {order})")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def parse_date(value: object, order: str = "DMY") -> date:
    """The calendar date as written (no zone conversion)."""
    return parse_datetime(value, order).date()


def iso_utc(moment: datetime) -> str:
    """``2026-11-20T10:15:00Z``: the form Braze documents."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_epoch(number: float) -> datetime:
    if number != number or abs(number) > 1e15:  # NaN or absurd
        raise DateParseError("not a usable epoch time")
    seconds = number / 1000 if abs(number) >= _EPOCH_MS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise DateParseError("not a usable epoch time") from error


def _from_parts(parts: dict) -> datetime:
    """``{"year": 1990.0, "month": 4.0, "day": 12.0}`` (and a time of day, if given)."""
    keys = set(parts)
    if not _DATE_PARTS <= keys <= _DATE_PARTS | _TIME_PARTS:
        raise DateParseError("not a date object: expected year, month and day")
    numbers = {key: _whole(parts[key], key) for key in keys}
    try:
        return datetime(
            numbers["year"], numbers["month"], numbers["day"],
            numbers.get("hours", 0), numbers.get("minutes", 0), numbers.get("seconds", 0),
            numbers.get("nanos", 0) // 1000,
        )  # fmt: skip
    except (ValueError, OverflowError) as error:
        raise DateParseError(f"not a real date or time ({error})") from error


def _whole(value: object, key: str) -> int:
    """A whole number, as a number (``1990.0``) or digits (``"1990"``)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer():
        return int(value)
    raise DateParseError(f"not a date object: '{key}' is not a whole number")


def _from_iso(text: str) -> datetime | None:
    if len(text) < 10 or not text[:4].isdigit() or text[4] != "-":
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _from_human(text: str, order: str) -> datetime | None:
    match = _NUMERIC.match(text)
    if match:
        return _numeric(match, order)
    match = _DAY_MONTH.match(text) or _MONTH_DAY.match(text)
    if match:
        month = MONTHS.get(match["month"].lower())
        if month is None:
            raise DateParseError(f"unknown month name '{match['month'][:20]}'")
        return _combine(int(match["year"]), month, int(match["day"]), match)
    return None


def _numeric(match: re.Match, order: str) -> datetime:
    a, b, c = match["a"], match["b"], match["c"]
    if len(a) == 4:  # a leading four-digit year is unambiguous: Y-M-D
        year, month, day = int(a), int(b), int(c)
    elif order == "YMD":
        raise DateParseError("expected the year first (field order YMD)")
    else:
        first, second = int(a), int(b)
        day, month = (first, second) if order == "DMY" else (second, first)
        year = _full_year(c)
    return _combine(year, month, day, match)


def _full_year(text: str) -> int:
    if len(text) == 4:
        return int(text)
    if len(text) == 2:  # the POSIX strptime pivot: 69-99 -> 1900s, 00-68 -> 2000s
        return 1900 + int(text) if int(text) >= 69 else 2000 + int(text)
    raise DateParseError("the year must have 2 or 4 digits")


def _combine(year: int, month: int, day: int, match: re.Match) -> datetime:
    try:
        moment = datetime.combine(date(year, month, day), _time_of(match))
    except ValueError as error:
        raise DateParseError(f"not a real date or time ({error})") from error
    zone = match["zone"]
    if zone:
        moment = moment.replace(tzinfo=_zone_of(zone))
    return moment


def _time_of(match: re.Match) -> time:
    if match["hour"] is None:
        return time()
    hour = int(match["hour"])
    ampm = (match["ampm"] or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("hour out of range for am/pm")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    return time(hour, int(match["minute"]), int(match["second"] or 0))


def _zone_of(text: str) -> tzinfo:
    if text.upper() in ("Z", "UTC", "GMT"):
        return UTC
    return datetime.strptime(text.replace(":", ""), "%z").tzinfo or UTC
