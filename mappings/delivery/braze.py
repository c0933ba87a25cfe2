"""The Braze REST client: the one place the service makes HTTP calls to Braze.

It knows no models. It takes an endpoint, a key and a body, and returns a ``BrazeAnswer`` for a
2xx, or raises ``BrazeError`` whose ``permanent`` flag says whether retrying could help
(429, 5xx, timeouts and connection errors are transient; other 4xx are permanent), and whose
``ambiguous`` flag says whether Braze may have applied the request anyway (a read timeout or a
connection dropped after the request was sent; for an export, that it may have spent one of
the export's scarce rate-limit slots).
"""

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

from mappings.delivery import deadlines
from mappings.delivery.retry_policy import rate_limit_wait

_per_thread = threading.local()

# Why a request got no HTTP answer: the deadline cut it, a connect or read timeout, a TLS
# handshake or certificate failure, or another connection error (refused, reset, DNS).
NO_ANSWER_KINDS = ("deadline", "timeout", "tls", "connection")


@dataclass(frozen=True)
class BrazeAnswer:
    status: int
    body: dict[str, Any] | None
    text: str
    headers: dict[str, str]
    duration_ms: int

    @property
    def errors(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("errors") or [])

    @property
    def message(self) -> str:
        return str((self.body or {}).get("message", "")) or self.text[:200]

    def describe(self) -> str:
        """Braze's message plus each per-object error, e.g. for a failure reason."""
        details = [
            f"{err.get('input_array', '?')}[{err.get('index', '?')}]: {err.get('type', err)}"
            for err in self.errors
        ]
        return "; ".join([self.message, *details])


@dataclass(frozen=True)
class RateLimit:
    """What an answer's rate-limit headers said; None where a header was absent or unreadable.

    ``wait_seconds`` is how long until the budget comes back (``X-Ratelimit-Retry-After``, else
    ``X-RateLimit-Reset`` as an epoch second or a delay), counted from ``read_at_epoch``.
    """

    limit: int | None
    remaining: int | None
    wait_seconds: float | None
    read_at_epoch: float

    @property
    def resets_at_epoch(self) -> float | None:
        return None if self.wait_seconds is None else self.read_at_epoch + self.wait_seconds

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now_epoch: float) -> "RateLimit":
        lowered = {name.lower(): value for name, value in headers.items()}
        return cls(
            limit=_whole_number(lowered.get("x-ratelimit-limit")),
            remaining=_whole_number(lowered.get("x-ratelimit-remaining")),
            wait_seconds=rate_limit_wait(lowered, now_epoch),
            read_at_epoch=now_epoch,
        )


def _whole_number(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


class BrazeError(Exception):
    """``rate_limit`` is read from Braze's answer when there is one (a 429's says when to
    come back)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        answer: BrazeAnswer | None = None,
        ambiguous: bool = False,
        duration_ms: int | None = None,
        no_answer: str | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        # Why no HTTP answer came (one of NO_ANSWER_KINDS), None when Braze answered.
        self.no_answer = no_answer
        self.answer = answer
        self.ambiguous = ambiguous
        self.duration_ms = answer.duration_ms if answer and duration_ms is None else duration_ms
        self.rate_limit = RateLimit.from_headers(answer.headers, time.time()) if answer else None

    @property
    def status(self) -> int | None:
        return self.answer.status if self.answer else None


def _session() -> requests.Session:
    # One keep-alive session per thread: requests.Session is not safe to share across threads.
    if not hasattr(_per_thread, "session"):
        _per_thread.session = deadlines.watched_session()
    return _per_thread.session


def _answer_from_response(response: requests.Response, started: float) -> BrazeAnswer:
    try:
        body = response.json()
    except ValueError:
        body = None
    return BrazeAnswer(
        status=response.status_code,
        body=body if isinstance(body, dict) else None,
        text=response.text,
        headers={key.lower(): value for key, value in response.headers.items()},
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made, so Braze cannot have seen the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, NewConnectionError)


def track_users(
    endpoint: str, api_key: str, body: dict[str, Any], *, deadline: float | None = None
) -> BrazeAnswer:
    """POST ``body`` to ``{endpoint}/users/track``. Raises ``BrazeError`` unless Braze says 2xx.

    ``deadline`` (a ``time.monotonic()`` instant) bounds the whole request, connecting, sending
    and reading together, as does ``BRAZE_REQUEST_DEADLINE_SECONDS`` from now. A request
    still running then is cut (its connection closed) and raised as ambiguous: Braze may have
    applied it.
    """
    return _post(f"{endpoint}/users/track", api_key, body, deadline)


MAX_EXPORT_IDS = 50  # external_ids and user_aliases together, per /users/export/ids request


@dataclass(frozen=True)
class ExportAnswer:
    """Braze's answer to an export: the profiles found (each as Braze shows it, with only the
    fields asked for), the identifiers it does not know, and its rate-limit headers."""

    users: list[dict[str, Any]]
    not_found: list[str]
    rate_limit: RateLimit
    answer: BrazeAnswer


def export_users(
    endpoint: str,
    api_key: str,
    *,
    fields_to_export: Iterable[str],
    external_ids: Iterable[str] = (),
    user_aliases: Iterable[Mapping[str, str]] = (),
    deadline: float | None = None,
) -> ExportAnswer:
    """POST to ``{endpoint}/users/export/ids`` for these users and only these fields.

    Braze takes 1 to 50 external ids and aliases together: outside that a ``ValueError`` is
    raised before any request, so a caller's bug spends none of the export's scarce slots
    (splitting a longer list is the caller's choice, not this client's).

    ``external_id`` (with external ids) and ``user_aliases`` (with aliases) are always asked for
    too, so each profile found can be told apart. The deadline works as for ``track_users``; a
    cut request is ambiguous as it may have spent a rate-limit slot. A 2xx without Braze's
    ``users`` list raises a transient ``BrazeError`` (nothing usable was read).
    """
    external_ids, user_aliases = list(external_ids), [dict(a) for a in user_aliases]
    if not 0 < len(external_ids) + len(user_aliases) <= MAX_EXPORT_IDS:
        raise ValueError(f"export 1 to {MAX_EXPORT_IDS} external ids and aliases in all")
    fields = _fields(fields_to_export, external_ids, user_aliases)
    body: dict[str, Any] = {"fields_to_export": fields}
    if external_ids:
        body["external_ids"] = external_ids
    if user_aliases:
        body["user_aliases"] = user_aliases
    answer = _post(f"{endpoint}/users/export/ids", api_key, body, deadline)
    users = (answer.body or {}).get("users")
    if not isinstance(users, list) or not all(isinstance(user, dict) for user in users):
        raise BrazeError(
            f"Braze answered {answer.status} without a users list: {answer.message}",
            permanent=False,
            answer=answer,
        )
    return ExportAnswer(
        users=users,
        not_found=[str(i) for i in (answer.body or {}).get("invalid_user_ids") or []],
        rate_limit=RateLimit.from_headers(answer.headers, time.time()),
        answer=answer,
    )


def _fields(wanted: Iterable[str], external_ids: list[str], aliases: list[dict]) -> list[str]:
    fields = list(dict.fromkeys(wanted))  # in order, once each
    needed = ["external_id"] * bool(external_ids) + ["user_aliases"] * bool(aliases)
    return fields + [name for name in needed if name not in fields]


def _post(url: str, api_key: str, body: dict[str, Any], deadline: float | None) -> BrazeAnswer:
    """POST ``body`` as JSON under a wall-clock deadline; a 2xx answer, else ``BrazeError``."""
    started = time.monotonic()
    longest = started + settings.BRAZE_REQUEST_DEADLINE_SECONDS
    deadline = longest if deadline is None else min(deadline, longest)
    left = max(0.001, deadline - started)
    timeout = (
        min(settings.BRAZE_CONNECT_TIMEOUT_SECONDS, left),
        min(settings.BRAZE_READ_TIMEOUT_SECONDS, left),
    )
    try:
        with deadlines.cut_at(deadline) as cut:
            response = _session().post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {api_key}"},
                timeout=timeout,
                allow_redirects=False,
            )
    except requests.RequestException as error:
        raise _request_error(error, started, cut_short=cut.fired) from error
    if cut.fired:
        # Cut mid-answer, http.client can take the end of the stream for the end of the headers
        # or body: what arrived is not Braze's whole answer.
        raise _request_error(
            requests.ConnectionError("cut at the deadline"), started, cut_short=True
        )
    answer = _answer_from_response(response, started)
    if 200 <= answer.status < 300:
        return answer
    raise BrazeError(
        f"Braze answered {answer.status}: {answer.describe()}",
        permanent=not _is_transient(answer.status),
        answer=answer,
    )


def _request_error(error: requests.RequestException, started: float, *, cut_short: bool):
    duration_ms = round((time.monotonic() - started) * 1000)
    if cut_short:
        kind, message = (
            "deadline",
            f"Braze gave no complete answer within the deadline ({duration_ms} ms)",
        )
    elif isinstance(error, requests.Timeout):
        kind, message = "timeout", f"Braze did not answer in time: {type(error).__name__}"
    else:
        kind = "tls" if isinstance(error, requests.exceptions.SSLError) else "connection"
        message = f"Could not reach Braze: {type(error).__name__}"
    return BrazeError(
        message, permanent=False, ambiguous=not _never_sent(error), duration_ms=duration_ms,
        no_answer=kind,
    )  # fmt: skip
