"""What one canary run asks Braze, and what each answer means, in words.

The write is one attributes object for the marked test user. Its answer is checked three ways:
the status (201; a 202 "queued" is Braze's maintenance queue: accepted, said so), the shape
(a JSON object, message "success", ``attributes_processed`` 1, no ``errors``) and the key's
permission (401: a wrong key; 403: no ``users.track``, or the IP allowlist: Braze answers both
alike). An environment that serves lookups also has the user read back with
``/users/export/ids``, which proves the read permission lookups need (403: "no_read_permission").

The verdict words for what the connection test also meets (a wrong or refused key, an outage, no
answer, no key) are the connection test's own (``mappings.delivery.connection_check``). Quoted
answers never carry the key: it is blanked out of anything quoted.
"""

import json
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings

from mappings.delivery import braze, connection_check
from mappings.delivery.connection_check import OK, Verdict, seen
from mappings.lookups import export_budget
from mappings.models import Environment, LookupField

MAINTENANCE = "maintenance"
# Verdicts that need no one: a write Braze took as it should (now, or queued in maintenance).
OK_KINDS = (OK, MAINTENANCE)
QUOTE_CHARS = 120
# Statuses the connection test's words already tell (key, endpoint, rate limit).
TOLD_BY_STATUS = (401, 403, 404, 429)


@dataclass(frozen=True)
class Call:
    """The request a verdict is about, as the run row keeps it."""

    url: str
    status: int | None = None
    text: str = ""
    duration_ms: int | None = None


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    call: Call

    @property
    def ok(self) -> bool:
        return self.verdict.kind in OK_KINDS


def check(environment: Environment, body: dict[str, Any]) -> Outcome:
    """Write ``body`` to the environment's Braze and judge the answer; read the user back too
    when the environment serves lookups."""
    try:
        api_key = connection_check.stored_api_key(environment)
    except connection_check.NotSent as refusal:
        return Outcome(refusal.verdict, Call(environment.users_track_url))
    written = _write(environment, api_key, body)
    if not written.ok or not serves_lookups(environment):
        return written
    return _read_back(environment, api_key, written)


def serves_lookups(environment: Environment) -> bool:
    """True when an active mapping set of the environment has read rows (bots read profiles)."""
    return LookupField.objects.filter(
        mapping_set__environment=environment, mapping_set__is_active=True
    ).exists()


def _write(environment: Environment, api_key: str, body: dict[str, Any]) -> Outcome:
    url = environment.users_track_url
    try:
        answer = braze.track_users(environment.rest_endpoint, api_key, body)
    except braze.BrazeError as error:
        return Outcome(_write_failed(error, api_key), _failed_call(url, error, api_key))
    return Outcome(_accepted(answer, api_key), _answered_call(url, answer, api_key))


def _answered_call(url: str, answer: braze.BrazeAnswer, api_key: str) -> Call:
    return Call(url, answer.status, _blanked(answer.text, api_key), answer.duration_ms)


def _failed_call(url: str, error: braze.BrazeError, api_key: str) -> Call:
    if error.answer is not None:
        return _answered_call(url, error.answer, api_key)
    return Call(url, None, str(error), error.duration_ms)


def _blanked(text: str, api_key: str) -> str:
    # An answer may echo the key it was sent (a 401 can): keep it out of rows and pages.
    return text.replace(api_key, "[key]") if api_key else text


def _quote(value: Any, api_key: str) -> str:
    """``value`` as JSON (a string in quotes), cut short, without the key."""
    text = _blanked(json.dumps(value, default=str, ensure_ascii=False), api_key)
    return text[:QUOTE_CHARS] + ("…" if len(text) > QUOTE_CHARS else "")


def _accepted(answer: braze.BrazeAnswer, api_key: str) -> Verdict:
    if answer.status == 202 and answer.body is not None and answer.message == "queued":
        summary = (
            'Braze is in maintenance and queued the canary\'s write (202 "queued"): accepted, '
            "to be applied later, so the answer's shape could not be checked this time."
        )
        return Verdict(MAINTENANCE, summary, seen(answer))
    problems = shape_problems(answer, api_key)
    if problems:
        summary = "Braze's answer to the write is not the one Braze gives: " + "; ".join(problems)
        return Verdict("bad_shape", summary, seen(answer))
    summary = (
        'Braze wrote the canary user: 201, message "success", 1 attributes object processed, '
        "no errors."
    )
    return Verdict(OK, summary, seen(answer))


def shape_problems(answer: braze.BrazeAnswer, api_key: str = "") -> list[str]:
    """What is off in a 2xx answer to the one-object write, each in words; empty when none."""
    problems = [] if answer.status == 201 else [f"status {answer.status}, not 201"]
    body = answer.body
    if body is None:
        return [*problems, f"the answer is not a JSON object: {_quote(answer.text, api_key)}"]
    if body.get("message") != "success":
        problems.append(f'message {_quote(body.get("message"), api_key)}, not "success"')
    processed = body.get("attributes_processed")
    if "attributes_processed" not in body:
        problems.append("no attributes_processed (1 expected)")
    elif type(processed) is not int or processed != 1:
        problems.append(f"attributes_processed {_quote(processed, api_key)}, not 1")
    if "errors" in body:
        problems.append(f"errors {_quote(body['errors'], api_key)}")
    return problems


def _write_failed(error: braze.BrazeError, api_key: str) -> Verdict:
    answer = error.answer
    if answer is None:
        return connection_check.no_answer_verdict(error)
    if answer.body is not None and answer.status < 500 and answer.status not in TOLD_BY_STATUS:
        summary = (
            f"Braze refused the canary's write ({answer.status}): "
            f"{_quote(answer.describe(), api_key)}. The bridge's write is out of step with "
            "Braze's API: report it."
        )
        return Verdict("refused_write", summary, seen(answer))
    return connection_check.refused_verdict(answer)


def _read_back(environment: Environment, api_key: str, written: Outcome) -> Outcome:
    """Export the canary user: proves the key may read profiles, as lookups need."""
    if not export_budget.try_spend(environment.pk):
        note = " Read permission not checked: this minute's export budget is spent by lookups."
        return replace(written, verdict=_amended(written.verdict, note))
    url = f"{environment.rest_endpoint}/users/export/ids"
    try:
        found = braze.export_users(
            environment.rest_endpoint, api_key, fields_to_export=["external_id"],
            external_ids=[settings.CANARY_EXTERNAL_ID],
        )  # fmt: skip
    except braze.BrazeError as error:
        return Outcome(_read_failed(error), _failed_call(url, error, api_key))
    note = f" The key may read profiles too (lookups): the export answered {seen(found.answer)}."
    return replace(written, verdict=_amended(written.verdict, note))


def _amended(verdict: Verdict, note: str) -> Verdict:
    return replace(verdict, summary=verdict.summary + note)


def _read_failed(error: braze.BrazeError) -> Verdict:
    answer = error.answer
    if answer is None:
        verdict = connection_check.no_answer_verdict(error)
    elif answer.status == 403:
        summary = (
            "The write passed, but Braze refused to read the canary user back (403): the key "
            "lacks the users.export.ids permission this environment's lookups need, or the IP "
            "allowlist refuses this server."
        )
        return Verdict("no_read_permission", summary, seen(answer))
    elif 200 <= answer.status < 300:
        verdict = Verdict("bad_shape", "The answer has no users list.", seen(answer))
    else:
        verdict = connection_check.refused_verdict(answer)
    return _prefixed(verdict, "Reading the canary user back (/users/export/ids): ")


def _prefixed(verdict: Verdict, prefix: str) -> Verdict:
    return replace(verdict, summary=prefix + verdict.summary)
