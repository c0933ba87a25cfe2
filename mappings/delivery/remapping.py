"""Re-mapping replay: a delivery's stored conversation through its mapping set's current
mapping, sent as a new attempt logged with who asked and the mapping version that made its body.

Unlike a replay of the stored body (replays.py), this takes rejected deliveries too: after a
mapping is fixed, the conversations it rejected can be sent. The delivery's ``braze_payload``
and ``mapping_version`` become the re-mapped ones, so automatic retries of this try send the
same body; the bodies sent before stay on their own attempt rows, each with its version.
A conversation the current mapping still rejects is left rejected, with the new problems.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from mappings.delivery import replays
from mappings.delivery.replays import NotReplayable
from mappings.engine.data_points import data_points
from mappings.engine.mapping import MappingResult, compiled_for
from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import REMAPPABLE_STATUSES, DeliveryStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Remapped:
    """What the current mapping made of one delivery's conversation."""

    delivery: Delivery
    result: MappingResult
    version: int
    attempt: DeliveryAttempt | None  # None: still rejected, nothing queued

    @property
    def sent(self) -> bool:
        return self.attempt is not None


@dataclass(frozen=True)
class RemapSummary:
    sent: int
    still_rejected: int
    skipped: int
    capped: bool


def remappable(queryset: QuerySet) -> QuerySet:
    return queryset.filter(status__in=REMAPPABLE_STATUSES)


def remap(delivery: Delivery) -> MappingResult:
    """The delivery's stored conversation through its mapping set's current mapping (no I/O
    beyond reading the mapping set; nothing stored)."""
    return compiled_for(delivery.mapping_set).run(delivery.received_payload)


def remap_one(delivery: Delivery, user) -> Remapped:
    """Re-map ``delivery`` as ``user`` and queue it if it maps; raises ``NotReplayable`` for a
    delivery that is on its way or delivered."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("mapping_set", "environment")
            .get(pk=delivery.pk)
        )
        if delivery.status not in REMAPPABLE_STATUSES:
            raise NotReplayable(f"A {delivery.status} delivery cannot be re-mapped")
        result, version = remap(delivery), delivery.mapping_set.version
        if not result.ok:
            _keep_rejected(delivery, result)
            return Remapped(delivery, result, version, attempt=None)
        _store_body(delivery, result, version)
        attempt = _queue(delivery, user, version)
    logger.info("Delivery %s re-mapped with version %s by %s", delivery.pk, version, user)
    return Remapped(delivery, result, version, attempt)


def remap_many(queryset: QuerySet, user, limit: int) -> RemapSummary:
    """Re-map up to ``limit`` re-mappable deliveries of ``queryset``, oldest first."""
    ordered = remappable(queryset).order_by("created_at", "pk").values_list("pk", flat=True)
    ids = list(ordered[: limit + 1])
    sent = still_rejected = skipped = 0
    for pk in ids[:limit]:
        try:
            outcome = remap_one(Delivery(pk=pk), user)
        except NotReplayable:
            skipped += 1  # someone else replayed it meanwhile
            continue
        sent += outcome.sent
        still_rejected += not outcome.sent
    return RemapSummary(sent, still_rejected, skipped, capped=len(ids) > limit)


def _keep_rejected(delivery: Delivery, result: MappingResult) -> None:
    """A rejected delivery shows why the current mapping rejects it too; a failed or dead one
    keeps its stored body and its state (it can still be replayed as it is)."""
    if delivery.status != DeliveryStatus.REJECTED:
        return
    delivery.problems = [problem.as_dict() for problem in result.problems]
    delivery.save(update_fields=["problems", "updated_at"])


def _store_body(delivery: Delivery, result: MappingResult, version: int) -> None:
    delivery.braze_payload = result.payload
    delivery.mapping_version = version
    delivery.external_id = result.external_id or ""
    delivery.problems = [problem.as_dict() for problem in result.problems]
    # The whole body is sent: the dedup of unchanged attributes decided on the old one.
    delivery.skipped_attributes = []
    delivery.data_points = data_points(result.payload)
    delivery.data_points_saved = 0


def _queue(delivery: Delivery, user, version: int) -> DeliveryAttempt:
    """The attempt row the worker sends (as a replay's), and the delivery due now, with the
    fields the re-mapping changed."""
    remapped = (
        "braze_payload", "mapping_version", "external_id", "problems", "skipped_attributes",
        "data_points", "data_points_saved",
    )  # fmt: skip
    return replays.queue_manual_attempt(delivery, user, version, also_saved=remapped)
