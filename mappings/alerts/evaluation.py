"""Evaluating the alert rules: record what fires, and tell once per start and once per clear.

State-based, so a missed run loses nothing and a repeated one sends nothing: each (rule,
subject) has an ``AlertState`` holding whether it fires now and what was last told
(``notified_firing``, ``notified_at``). A message goes when the two differ and the rule's
cool-down has passed since the last one; a flap inside the cool-down therefore sends nothing,
and a state still changed when the cool-down ends is told then.

Every web process's embedded loop may evaluate at the same moment (and beat on top): the right
to send is claimed with a conditional UPDATE on the old ``notified_*`` values, so of two
evaluators only the one whose update counted a row sends.
"""

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mappings.alerts import channels, conditions
from mappings.alerts.conditions import Firing
from mappings.alerts.messages import Message
from mappings.models import AlertRule, AlertState
from mappings.models.alerts import AlertTransition

logger = logging.getLogger(__name__)


def evaluate_all(now: datetime | None = None) -> list[Message]:
    """Evaluate every active rule; returns the messages this call sent. A rule whose
    evaluation fails is logged and does not stop the others."""
    now = now or timezone.now()
    rules = AlertRule.objects.filter(is_active=True).select_related(
        "environment", "mapping_set__environment"
    )
    sent: list[Message] = []
    for rule in rules:
        try:
            sent += evaluate_rule(rule, now)
        except Exception:
            logger.exception("Alert rule %s could not be evaluated", rule.pk)
    return sent


def evaluate_rule(rule: AlertRule, now: datetime) -> list[Message]:
    firing = {found.subject: found for found in conditions.firing(rule, now)}
    states = {state.subject: state for state in rule.states.all()}
    for subject, found in firing.items():
        states[subject] = _started(rule, states.get(subject), found, now)
    for subject, state in states.items():
        if subject not in firing and state.firing:
            _cleared(state, now)
    messages = [m for state in states.values() if (m := _message_due(rule, state, now))]
    for message in messages:
        channels.send(message)
    return messages


def _started(rule: AlertRule, state: AlertState | None, found: Firing, now) -> AlertState:
    if state is None:
        state = _new_state(rule, found, now)
    if not state.firing:
        # Conditional, so of two evaluators the first sets since.
        AlertState.objects.filter(pk=state.pk, firing=False).update(firing=True, since=now)
        state.firing, state.since = True, now
    described = (found.label, found.summary, found.link)
    if described != (state.subject_label, state.summary, state.link):
        state.subject_label, state.summary, state.link = described
        state.save(update_fields=["subject_label", "summary", "link"])
    return state


def _new_state(rule: AlertRule, found: Firing, now) -> AlertState:
    fields = {"subject_label": found.label, "summary": found.summary, "link": found.link}
    try:
        with transaction.atomic():  # a savepoint: another evaluator may insert it first
            return AlertState.objects.create(
                rule=rule, subject=found.subject, firing=True, since=now, **fields
            )
    except IntegrityError:
        return AlertState.objects.get(rule=rule, subject=found.subject)


def _cleared(state: AlertState, now) -> None:
    AlertState.objects.filter(pk=state.pk, firing=True).update(firing=False, since=now)
    state.firing, state.since = False, now


def _message_due(rule: AlertRule, state: AlertState, now) -> Message | None:
    """The message to send now for ``state``, if this evaluator won the right to send it."""
    if state.firing == state.notified_firing:
        return None
    cooldown = timedelta(minutes=rule.cooldown_minutes)
    if state.notified_at is not None and now - state.notified_at < cooldown:
        return None  # held: sent once the cool-down has passed, if still changed then
    claimed = AlertState.objects.filter(
        pk=state.pk,
        firing=state.firing,
        notified_firing=state.notified_firing,
        notified_at=state.notified_at,
    ).update(notified_firing=state.firing, notified_at=now)
    if claimed != 1:
        return None  # another evaluator is sending it, or the state moved on meanwhile
    transition = AlertTransition.STARTED if state.firing else AlertTransition.CLEARED
    return Message(rule, transition, state.subject_label, state.summary, state.link)
