"""``manage.py send_test``: send sample conversations through a mapping set to its Braze
environment, exactly as an ingest would (mapped, stored, delivered and logged), and say what
Braze answered.

A mapping set delivers to its own environment only (versions per environment are not live yet),
so ``--env`` is a safety check: it must name that environment. An environment named like
production (``Environment.looks_like_production``) is refused unless the caller confirms it.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.urls import reverse

from mappings import site_links
from mappings.ingest import conversations
from mappings.models import Delivery, MappingSet
from mappings.models.audit import DeliveryStatus

MAX_ANSWER_CHARS = 500


class SendTestError(Exception):
    """A reason to send nothing (or nothing more), said so the caller can fix it."""


@dataclass(frozen=True)
class Sample:
    label: str  # where it came from: "line 3", "item 2", "last received"
    conversation: Any


@dataclass(frozen=True)
class SampleResult:
    sample: Sample
    delivery: Delivery
    braze_status: int | None
    braze_answer: str

    @property
    def outcome(self) -> str:
        return self.delivery.status


def mapping_set_named(slug: str) -> MappingSet:
    found = MappingSet.objects.select_related("environment").filter(slug=slug).first()
    if found is None:
        known = ", ".join(MappingSet.objects.values_list("slug", flat=True)) or "none yet"
        raise SendTestError(f"No mapping set {slug!r} (known: {known})")
    return found


def check_environment(mapping_set: MappingSet, env_name: str | None, yes_prod: bool) -> str:
    """The environment the samples go to, once it is the one asked for and allowed."""
    environment = mapping_set.environment.name
    if env_name is not None and env_name != environment:
        raise SendTestError(
            f"Mapping set {mapping_set.slug!r} delivers to {environment!r}, not {env_name!r}; "
            "a set sends only to its own environment"
        )
    if mapping_set.environment.looks_like_production and not yes_prod:
        raise SendTestError(
            f"{environment!r} looks like production: add --yes-prod to send test data there"
        )
    return environment


def samples_from_file(path: Path) -> list[Sample]:
    """A ``.json`` file (one conversation, or a list of them) or JSON Lines (one per line)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SendTestError(f"Cannot read {path}: {error}") from error
    if path.suffix.lower() == ".json":
        return _samples_from_json(path, text)
    return _samples_from_lines(path, text)


def _samples_from_json(path: Path, text: str) -> list[Sample]:
    try:
        found = json.loads(text)
    except json.JSONDecodeError as error:
        raise SendTestError(f"{path}: not JSON ({error})") from error
    items = found if isinstance(found, list) else [found]
    return [Sample(f"item {n}", item) for n, item in enumerate(items, start=1)]


def _samples_from_lines(path: Path, text: str) -> list[Sample]:
    """Every line checked before anything is sent: a bad line stops the run with its number."""
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            samples.append(Sample(f"line {number}", json.loads(line)))
        except json.JSONDecodeError as error:
            raise SendTestError(f"{path}, line {number}: not JSON ({error.msg})") from error
    if not samples:
        raise SendTestError(f"{path} holds no conversation")
    return samples


def last_received(mapping_set: MappingSet) -> Sample:
    latest = (
        Delivery.objects.filter(mapping_set=mapping_set)
        .order_by("-created_at")
        .values_list("received_payload", flat=True)
        .first()
    )
    if latest is None:
        raise SendTestError(
            f"Mapping set {mapping_set.slug!r} has received no conversation yet: pass --file"
        )
    return Sample("last received", latest)


def send(mapping_set: MappingSet, sample: Sample) -> SampleResult:
    """Map, store and deliver one sample now (sync mode), as an ingest does."""
    result = conversations.ingest(mapping_set, None, sample.conversation, mode="sync")
    attempt = result.attempt
    if attempt is None:
        return SampleResult(sample, result.delivery, None, _without_answer(result.delivery))
    answer = attempt.response_body or attempt.error
    return SampleResult(sample, result.delivery, attempt.response_status, _short(answer))


def _without_answer(delivery: Delivery) -> str:
    if delivery.status == DeliveryStatus.REJECTED:
        return f"not sent: {delivery.reason}"
    if delivery.status == DeliveryStatus.DELIVERED:
        return f"not sent: {delivery.reason or 'nothing to send'}"
    return "not sent yet: queued for a worker"


def _short(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + "…"


def log_url(delivery: Delivery) -> str:
    """The delivery's log page, absolute when ``SITE_URL`` is set."""
    return site_links.absolute(reverse("logs:delivery", args=[delivery.pk]))
