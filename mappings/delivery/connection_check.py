"""Test an environment's endpoint and key: one empty ``POST /users/track``, told in words.

Braze answers an empty body 400 "Valid data must be provided..." once the key has passed its
checks, and writes nothing (docs/braze.md, "An empty body asks without writing"): so the answer
tells a wrong endpoint, a wrong key (401) and a key Braze refuses (403) apart without creating a
user. What it cannot tell: that a real write lands (nothing is written), and whether a 403 means
the missing ``users.track`` permission or the workspace's IP allowlist (Braze answers both
alike). It leaves no trace in the delivery log (no delivery, no Braze call row) and changes no
hold: it is a question, not a delivery. The key never appears in a verdict or the log line, and
Braze's own text is quoted only for the one answer we recognise (a 401 may echo the key).
"""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from mappings import braze_endpoints
from mappings.delivery import braze
from mappings.encryption import SecretDecryptionError
from mappings.models import BrazeCredential, Environment

logger = logging.getLogger(__name__)

EMPTY_BODY: dict = {}  # names no user, carries no data point
VALID_DATA_MESSAGE = "Valid data must be provided"

# Verdict kinds: the one that means "all is well" and the ones that only mean "try later".
OK = "ok"
TRY_LATER = ("rate_limited", "maintenance")

HELP_TEXT = (
    "Test connection sends Braze one empty /users/track request with this environment's stored "
    "key. It names no user and carries no attribute, event or purchase, so nothing is written "
    "and no data point is counted. It tells apart: a reachable Braze that accepts the key; a "
    "wrong key (401, also a key of another Braze instance); a key Braze refuses (403); an "
    "endpoint that is not Braze's REST API (404, an answer that is not Braze's, a TLS or "
    "connection error, a timeout); and an outage at Braze (5xx). It cannot tell whether a 403 "
    "means the key lacks the users.track permission or this server's address is not on the "
    "workspace's IP allowlist (Braze answers both the same way), and, since it writes nothing, "
    "it cannot prove that a real delivery will be applied."
)


@dataclass(frozen=True)
class Verdict:
    kind: str  # "ok", "wrong_key", "refused_key", "not_braze", "unreachable", "outage", ...
    summary: str  # what it means, for the admin
    seen: str  # what came back: status or error, and how long it took

    @property
    def ok(self) -> bool:
        return self.kind == OK

    @property
    def try_later(self) -> bool:
        return self.kind in TRY_LATER

    def __str__(self) -> str:
        return f"{self.summary} ({self.seen})"


def check_connection(environment: Environment) -> Verdict:
    """Ask Braze, with the environment's stored key, whether endpoint and key work."""
    verdict = _check(environment)
    logger.info(
        "Connection test for environment %s (%s): %s, %s",
        environment.pk,
        environment.rest_endpoint,
        verdict.kind,
        verdict.seen,
    )
    return verdict


class NotSent(Exception):
    """Nothing can be sent to this environment; ``verdict`` says why, in words."""

    def __init__(self, verdict: Verdict):
        super().__init__(verdict.summary)
        self.verdict = verdict


def stored_api_key(environment: Environment) -> str:
    """The environment's key, once its endpoint is a Braze REST host. Raises ``NotSent``."""
    try:
        braze_endpoints.validate_rest_endpoint(environment.rest_endpoint)
    except ValidationError as error:
        raise NotSent(Verdict("not_braze", " ".join(error.messages), "not sent")) from error
    try:
        return BrazeCredential.objects.get(environment=environment).api_key()
    except BrazeCredential.DoesNotExist:
        summary = "No Braze credential is stored for this environment."
        raise NotSent(Verdict("no_key", summary, "not sent")) from None
    except SecretDecryptionError:
        summary = (
            "The stored key cannot be decrypted with the current BRAZE_KEY_ENCRYPTION_KEYS: "
            "enter the key again."
        )
        raise NotSent(Verdict("no_key", summary, "not sent")) from None


def _check(environment: Environment) -> Verdict:
    try:
        api_key = stored_api_key(environment)
    except NotSent as refusal:
        return refusal.verdict
    try:
        answer = braze.track_users(environment.rest_endpoint, api_key, EMPTY_BODY)
    except braze.BrazeError as error:
        if error.answer is None:
            return no_answer_verdict(error)
        return refused_verdict(error.answer)
    return _accepted(answer)


def seen(answer: braze.BrazeAnswer) -> str:
    """What came back, for a verdict: "HTTP 201, 34 ms"."""
    shape = "" if answer.body is not None else ", not JSON"
    return f"HTTP {answer.status}{shape}, {answer.duration_ms} ms"


def _accepted(answer: braze.BrazeAnswer) -> Verdict:
    """A 2xx to an empty body: Braze's maintenance queue, or not Braze at all."""
    if answer.body is not None and answer.message == "queued":
        summary = (
            "Braze is in maintenance and queued the test unread: reachable, but the key was "
            "not checked. Test again later."
        )
        return Verdict("maintenance", summary, seen(answer))
    summary = (
        "The endpoint accepted an empty request, which Braze never does: it is not Braze's "
        "REST API."
    )
    return Verdict("not_braze", summary, seen(answer))


def refused_verdict(answer: braze.BrazeAnswer) -> Verdict:
    """A non-2xx answer to the empty request, told in words."""
    status, shown = answer.status, seen(answer)
    if answer.body is None:
        summary = (
            f"The endpoint answered {status} with something that is not JSON (a web page?): "
            "it is not Braze's REST API."
        )
        return Verdict("not_braze", summary, shown)
    if status == 400 and answer.message.startswith(VALID_DATA_MESSAGE):
        summary = (
            f"Braze is reachable and accepted the key. It answered the empty test request "
            f'"{answer.message}", as it does when the key passes; nothing was written.'
        )
        return Verdict(OK, summary, shown)
    return Verdict(*status_verdict(status), shown)


def status_verdict(status: int) -> tuple[str, str]:
    """The kind and summary of an answer by its status (the empty request's other answers)."""
    if status == 401:
        return "wrong_key", (
            "Braze does not know this key (401): it is wrong or revoked, or it belongs to "
            "another Braze instance (check that the endpoint is the one your dashboard shows)."
        )
    if status == 403:
        return "refused_key", (
            "Braze knows the key but refused it (403): it lacks the users.track permission, or "
            "the workspace's IP allowlist does not include this server (Braze does not say which)."
        )
    if status == 404:
        return "not_braze", (
            "The endpoint has no /users/track (404): it is not a Braze REST endpoint "
            "(sdk.* hosts are not REST hosts)."
        )
    if status == 429:
        return "rate_limited", (
            "Braze is rate-limiting this workspace (429): reachable, test again in a moment."
        )
    if status >= 500:
        return "outage", (
            f"Braze answered {status}: a failure on Braze's side. Deliveries wait and retry."
        )
    return "not_braze", (
        f"The endpoint answered {status}, which is not how Braze answers an empty request: "
        "it is not Braze's REST API, or something in between changed the request."
    )


NO_ANSWER = {
    "timeout": "No answer in time (timeout): a wrong host, a firewall dropping traffic, or "
    "Braze not answering.",
    "deadline": "No complete answer within the request deadline (timeout): a wrong host, a "
    "firewall, or Braze answering very slowly.",
    "tls": "The secure connection failed (TLS error): the host does not present a valid "
    "certificate for its name, so it is not a Braze REST host (or a proxy is in between).",
    "connection": "Could not connect (refused, reset or name not found): check the host.",
}


def no_answer_verdict(error: braze.BrazeError) -> Verdict:
    """A request that got no HTTP answer: a timeout, a TLS or connection error."""
    kind = error.no_answer or "connection"
    return Verdict("unreachable", NO_ANSWER[kind], f"{kind} error after {error.duration_ms} ms")
