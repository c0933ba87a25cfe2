"""Fault injection: scripted misbehaviours for the next requests to one of Braze's paths."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields
from http import HTTPStatus
from typing import Any

from .exchange import BRAZE_PATHS, TRACK_PATH, Answer, Pace, message_answer
from .rate_limit import RATE_LIMITED, rate_limit_headers
from .rules import ARRAYS
from .value_checks import is_int, is_number

HEADER_STYLES = ("classic", "delta", "retry_after")
FAULT_MESSAGES = {
    202: "queued",
    429: RATE_LIMITED,
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Fault:
    """A scripted misbehaviour for the next requests to ``path`` (``/users/track`` unless set;
    ``/users/export/ids`` for the profile export); requests to the other path pass it by.

    It lasts ``times`` requests, or, with ``for_seconds``, every request until that long after
    it first triggered. Effects (at most one): ``status`` (with 429 rate-limit headers in
    ``header_style``; 202 answers Braze's maintenance "queued"), ``drop_connection``,
    ``reject_indexes`` (a partial success); none means the usual answer.

    Pacing, alone or with an effect: ``delay_seconds`` is a slow answer, and
    ``trickle_interval_seconds`` a trickled one, ``trickle_chunk_bytes`` bytes at a time. Either
    way the request is processed and recorded when it arrives, as Braze applies a request it
    answers late: a client that gives up still leaves its objects accepted.
    """

    status: int | None = None
    times: int = 1
    for_seconds: float | None = None
    reset_in: float = 1.0
    header_style: str = "classic"
    delay_seconds: float = 0.0
    drop_connection: bool = False
    reject_indexes: dict[str, list[int]] | None = None
    trickle_interval_seconds: float = 0.0
    trickle_chunk_bytes: int = 1
    path: str = TRACK_PATH

    def __post_init__(self) -> None:
        effects = [self.status is not None, self.drop_connection, self.reject_indexes is not None]
        if sum(effects) > 1:
            raise ValueError("status, drop_connection and reject_indexes are exclusive")
        if not any(effects) and not self.delay_seconds and not self.trickle_interval_seconds:
            raise ValueError(
                "a Fault needs status, delay_seconds, trickle_interval_seconds, "
                "drop_connection or reject_indexes"
            )
        if self.drop_connection and self.trickle_interval_seconds:
            raise ValueError("a dropped connection sends no bytes to trickle")
        if self.path not in BRAZE_PATHS:
            raise ValueError(f"path must be one of {BRAZE_PATHS}")
        if self.reject_indexes is not None and self.path != TRACK_PATH:
            raise ValueError(f"reject_indexes applies to {TRACK_PATH} only")
        self._check_numbers()
        self._check_trickle()
        self._check_reject_indexes()

    def _check_numbers(self) -> None:
        if self.status is not None and not (is_int(self.status) and 200 <= self.status <= 599):
            raise ValueError("status must be an HTTP status from 200 to 599")
        if not is_int(self.times) or self.times < 1:
            raise ValueError("times must be an integer >= 1")
        if self.for_seconds is not None and not self.for_seconds > 0:
            raise ValueError("for_seconds must be > 0")
        if self.reset_in < 0 or self.delay_seconds < 0:
            raise ValueError("reset_in and delay_seconds must be >= 0")
        if self.header_style not in HEADER_STYLES:
            raise ValueError(f"header_style must be one of {HEADER_STYLES}")

    def _check_trickle(self) -> None:
        interval = self.trickle_interval_seconds
        if not is_number(interval) or not (0 <= interval < math.inf):
            raise ValueError("trickle_interval_seconds must be a finite number >= 0")
        if not is_int(self.trickle_chunk_bytes) or self.trickle_chunk_bytes < 1:
            raise ValueError("trickle_chunk_bytes must be an integer >= 1")

    def _check_reject_indexes(self) -> None:
        for kind, indexes in (self.reject_indexes or {}).items():
            if kind not in ARRAYS:
                raise ValueError(f"reject_indexes keys must be among {ARRAYS}")
            if not all(is_int(index) and index >= 0 for index in indexes):
                raise ValueError("reject_indexes values must be lists of indexes >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown Fault fields: {sorted(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pace(self) -> Pace:
        return Pace(self.delay_seconds, self.trickle_interval_seconds, self.trickle_chunk_bytes)


class ArmedFault:
    """A queued fault and how much of it is used up."""

    def __init__(self, fault: Fault) -> None:
        self.fault = fault
        self.remaining = fault.times
        self.started_at: float | None = None

    def use(self, now: float) -> bool:
        """Whether the fault applies to a request arriving ``now`` (and count it if so)."""
        if self.fault.for_seconds is not None:
            self.started_at = now if self.started_at is None else self.started_at
            return now - self.started_at < self.fault.for_seconds
        self.remaining -= 1
        return True

    @property
    def spent(self) -> bool:
        return self.fault.for_seconds is None and self.remaining <= 0


class FaultQueue:
    """Faults waiting to apply, in the order they were added (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: deque[ArmedFault] = deque()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(ArmedFault(fault))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [armed.fault for armed in self._armed]

    def take(self, path: str = TRACK_PATH) -> Fault | None:
        """The fault that applies to the request for ``path`` arriving now, consuming it: the
        oldest fault for that path; faults for the other path wait for their own requests."""
        now = time.monotonic()
        with self._lock:
            for armed in [armed for armed in self._armed if armed.fault.path == path]:
                if armed.use(now):
                    if armed.spent:
                        self._armed.remove(armed)
                    return armed.fault
                self._armed.remove(armed)  # a for_seconds fault whose time is over
        return None


def fault_status_answer(fault: Fault, rate_limit: int) -> Answer:
    """The answer for a ``status`` fault; a 429 carries headers for ``rate_limit`` requests."""
    status = fault.status or 503
    answer = message_answer(status, FAULT_MESSAGES.get(status) or status_phrase(status))
    if status == 429:
        answer.headers.update(retry_headers(fault, rate_limit))
    return answer


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def retry_headers(fault: Fault, limit: int) -> dict[str, str]:
    """Braze says when to come back in one of three ways (see docs/braze.md): a classic
    ``X-RateLimit-Reset`` epoch second, the same header as a delay in seconds ("delta"), or
    ``X-Ratelimit-Retry-After`` alone."""
    if fault.header_style == "retry_after":
        return {"X-Ratelimit-Retry-After": whole_seconds_text(fault.reset_in)}
    if fault.header_style == "delta":
        reset = whole_seconds_text(fault.reset_in)
    else:
        reset = str(math.ceil(time.time() + fault.reset_in))
    return rate_limit_headers(limit, 0, reset)


def whole_seconds_text(value: float) -> str:
    """Whole seconds as Braze sends them; a fraction is kept so tests can stay fast."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
