"""The Braze REST client: the one place the service makes HTTP calls to Braze.

It knows no models. It takes an endpoint, a key and a body, and returns a ``BrazeAnswer`` for a
2xx, or raises ``BrazeError`` whose ``permanent`` flag says whether retrying could help
(429, 5xx, timeouts and connection errors are transient; other 4xx are permanent), and whose
``ambiguous`` flag says whether Braze may have applied the request anyway (a read timeout or a
connection dropped after the request was sent).
"""

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from urllib3.exceptions import NewConnectionError

_per_thread = threading.local()


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


class BrazeError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        answer: BrazeAnswer | None = None,
        ambiguous: bool = False,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.answer = answer
        self.ambiguous = ambiguous

    @property
    def status(self) -> int | None:
        return self.answer.status if self.answer else None


def _session() -> requests.Session:
    # One keep-alive session per thread: requests.Session is not safe to share across threads.
    if not hasattr(_per_thread, "session"):
        _per_thread.session = requests.Session()
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
    endpoint: str, api_key: str, body: dict[str, Any], *, read_timeout: float | None = None
) -> BrazeAnswer:
    """POST ``body`` to ``{endpoint}/users/track``. Raises ``BrazeError`` unless Braze says 2xx."""
    started = time.monotonic()
    read = settings.BRAZE_READ_TIMEOUT_SECONDS if read_timeout is None else read_timeout
    try:
        response = _session().post(
            f"{endpoint}/users/track",
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=(settings.BRAZE_CONNECT_TIMEOUT_SECONDS, read),
            allow_redirects=False,
        )
    except requests.Timeout as error:
        raise BrazeError(
            f"Braze did not answer in time: {type(error).__name__}",
            permanent=False,
            ambiguous=not _never_sent(error),
        ) from error
    except requests.RequestException as error:
        raise BrazeError(
            f"Could not reach Braze: {type(error).__name__}",
            permanent=False,
            ambiguous=not _never_sent(error),
        ) from error
    answer = _answer_from_response(response, started)
    if 200 <= answer.status < 300:
        return answer
    raise BrazeError(
        f"Braze answered {answer.status}: {answer.describe()}",
        permanent=not _is_transient(answer.status),
        answer=answer,
    )
