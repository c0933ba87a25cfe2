"""Replaying by hand: one delivery or a filtered set, each replay logged with who asked.

Every replay goes through ``replay`` (a new attempt with ``triggered_by``); this module
only adds the bulk loop, its bound, and the operator log line.
"""

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from mappings.delivery import dispatch, worker
from mappings.models import Delivery, DeliveryAttempt
from mappings.models.audit import REPLAYABLE_STATUSES, DeliveryStatus

logger = logging.getLogger(__name__)


class NotReplayable(Exception):
    """Only failed or dead deliveries can be replayed."""


@dataclass(frozen=True)
class ReplaySummary:
    replayed: int
    skipped: int
    capped: bool


def replay_one(delivery: Delivery, user) -> None:
    """Replay ``delivery`` as ``user``; raises ``NotReplayable`` for other statuses."""
    replay(delivery, triggered_by=user)
    logger.info("Delivery %s replayed by %s", delivery.pk, user)


def replayable(queryset: QuerySet) -> QuerySet:
    return queryset.filter(status__in=REPLAYABLE_STATUSES)


def replay_many(queryset: QuerySet, user, limit: int) -> ReplaySummary:
    """Replay up to ``limit`` replayable deliveries of ``queryset``, oldest first."""
    ordered = replayable(queryset).order_by("created_at", "pk").values_list("pk", flat=True)
    ids = list(ordered[: limit + 1])
    replayed = skipped = 0
    for pk in ids[:limit]:
        delivery = Delivery.objects.select_related("environment__credential").get(pk=pk)
        try:
            replay_one(delivery, user)
            replayed += 1
        except NotReplayable:
            skipped += 1  # someone else replayed it meanwhile
    return ReplaySummary(replayed, skipped, capped=len(ids) > limit)


def replay(delivery: Delivery, *, triggered_by=None) -> DeliveryAttempt:
    """Queue a failed or dead delivery again, as a new attempt logged with the user.

    The worker path sends it (the attempt row is written now and completed when sent).
    """
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status not in REPLAYABLE_STATUSES:
            raise NotReplayable(f"A {delivery.status} delivery cannot be replayed")
        # The stored body's version: it is sent as it is.
        return queue_manual_attempt(delivery, triggered_by, delivery.mapping_version)


def queue_manual_attempt(
    delivery: Delivery, triggered_by, mapping_version: int | None, also_saved: tuple = ()
) -> DeliveryAttempt:
    """An attempt row for the body ``delivery`` now holds, logged with the user who asked and
    the mapping version that made the body, and the delivery due now for the worker to send.
    ``also_saved`` names the delivery's other fields the caller changed."""
    attempt = DeliveryAttempt.objects.create(
        delivery=delivery,
        attempt_number=delivery.attempt_count + 1,
        environment_id=delivery.environment_id,
        mapping_set_id=delivery.mapping_set_id,
        url=delivery.environment.users_track_url,
        request_body=dispatch.outgoing_payload(delivery),
        triggered_by=triggered_by,
        mapping_version=mapping_version,
    )
    delivery.attempt_count += 1
    delivery.status = DeliveryStatus.PENDING
    delivery.reason = ""
    delivery.next_attempt_at = timezone.now()
    queued = ["attempt_count", "status", "reason", "next_attempt_at", "updated_at"]
    delivery.save(update_fields=[*also_saved, *queued])
    worker.notify(delivery.environment_id)
    return attempt
